package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"ignis/mod"
	mproxy "ignis/mod/proxy65"
	"ignis/mod/upload"
	"ignis/proxy65"
	"ignis/reactor"
)

// services holds what the server runs beside client streams: the bytestreams
// relay (its listener on the reactor) and the upload service.
type services struct {
	relay    *proxy65.Relay
	proxyIdx int // index of the relay's listener among the reactor's
	upload   *upload.Module
	uploadLn net.Listener
	http     *http.Server
}

// addProxy makes the relay and its listener when [proxy65] is on.
func (s *Server) addProxy(listeners []reactor.Listener) []reactor.Listener {
	p := &s.cfg.Proxy65
	if !p.Enabled {
		return listeners
	}
	s.svc.relay = proxy65.New(proxy65.Config{MaxBytes: p.MaxBytes, RatePerSec: p.Rate, MaxBuffer: p.MaxBuffer,
		Timeout: p.Timeout.Duration, Logger: s.log.With("mod", "proxy65")})
	s.svc.proxyIdx = len(listeners)
	return append(listeners, reactor.Listener{Addr: p.Listen, Handler: s.svc.relay.Handler})
}

// ProxyAddr is the bound address of the bytestreams relay, or nil.
func (s *Server) ProxyAddr() net.Addr {
	if s.svc.relay == nil {
		return nil
	}
	return s.reactor.Addrs()[s.svc.proxyIdx]
}

// Relay is the bytestreams relay, or nil when [proxy65] is off.
func (s *Server) Relay() *proxy65.Relay { return s.svc.relay }

// proxyModule is the proxy's service at proxy.DOMAIN, or nil.
func (s *Server) proxyModule(h *mod.Handle) mod.Module {
	r := s.svc.relay
	if r == nil {
		return nil
	}
	return mproxy.New(h, mproxy.Config{
		Parents: s.cfg.serviceParents(svcProxy),
		Addr: func(domain string) (string, int) {
			host, port := s.cfg.Proxy65.Host, s.cfg.Proxy65.Port
			if host == "" {
				host = domain
			}
			if a, ok := s.ProxyAddr().(*net.TCPAddr); ok && port == 0 {
				port = a.Port
			}
			return host, port
		},
		Activate: func(sid, initiator, target string) error {
			err := r.Activate(proxy65.Hash(sid, initiator, target))
			switch {
			case errors.Is(err, proxy65.ErrNoStream):
				return mproxy.ErrNoStream
			case errors.Is(err, proxy65.ErrOneSided), errors.Is(err, proxy65.ErrActive):
				return fmt.Errorf("%w (%v)", mproxy.ErrOneSided, err)
			}
			return err
		},
	})
}

// uploadModule is the upload service at upload.DOMAIN, or nil.
func (s *Server) uploadModule(h *mod.Handle) mod.Module {
	u := &s.cfg.Upload
	s.svc.upload = upload.New(h, upload.Config{
		Dir:         filepath.Join(s.cfg.Data, "upload"),
		MaxFileSize: u.MaxFileSize,
		Quota:       u.Quota,
		Expiry:      u.Expiry.Duration,
		Parents:     s.cfg.serviceParents(svcUpload),
		URL: func(domain string) string {
			if u.URL != "" {
				return u.URL
			}
			// one listener; its TLS answers each domain with its certificate (SNI)
			port := ""
			if a, ok := s.UploadAddr().(*net.TCPAddr); ok {
				port = ":" + strconv.Itoa(a.Port)
			}
			return "https://" + domain + port
		},
	})
	return s.svc.upload
}

// Upload is the upload module, or nil when [upload] is off.
func (s *Server) Upload() *upload.Module { return s.svc.upload }

// UploadAddr is the bound address of the upload listener, or nil.
func (s *Server) UploadAddr() net.Addr {
	if s.svc.uploadLn == nil {
		return nil
	}
	return s.svc.uploadLn.Addr()
}

// startUpload binds the HTTPS listener of the upload service.
func (s *Server) startUpload(tlsCfg *tls.Config) error {
	if s.svc.upload == nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Upload.Listen)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	s.svc.uploadLn = ln
	s.svc.http = &http.Server{
		Handler:           s.svc.upload,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.With("mod", "upload").Handler(), slog.LevelDebug),
	}
	go func() { _ = s.svc.http.Serve(tls.NewListener(ln, tlsCfg)) }()
	return nil
}

// stopUpload ends the upload listener and the transfers in progress.
func (s *Server) stopUpload(ctx context.Context) {
	if s.svc.http != nil {
		if err := s.svc.http.Shutdown(ctx); err != nil {
			_ = s.svc.http.Close()
		}
	}
}
