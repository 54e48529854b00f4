package web

import (
	"strings"

	"ignis/xmlscan"
)

// XEP-0156 link relations.
const (
	relWebSocket = "urn:xmpp:alt-connections:websocket"
	relBOSH      = "urn:xmpp:alt-connections:xbosh"
)

// hostMeta returns the XEP-0156 document for path (XRD, or JRD for
// host-meta.json), listing the WebSocket and BOSH URLs as reached by the
// request: its Host, over TLS when the connection is.
func (c *conn) hostMeta(r *request, path string) (ctype string, body []byte) {
	host := r.host
	if host == "" {
		host = c.s.cfg.Domain.String()
	}
	ws, http := "ws://", "http://"
	if c.raw.TLS() != nil {
		ws, http = "wss://", "https://"
	}
	wsURL := ws + host + c.s.cfg.WebSocketPath
	boshURL := http + host + c.s.cfg.BOSHPath
	if strings.HasSuffix(path, ".json") {
		b := []byte(`{"links":[{"rel":"` + relWebSocket + `","href":`)
		b = appendJSONString(b, wsURL)
		b = append(b, `},{"rel":"`+relBOSH+`","href":`...)
		b = appendJSONString(b, boshURL)
		return "application/json", append(b, "}]}\n"...)
	}
	b := []byte("<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n  <Link rel='" + relWebSocket + "' href='")
	b = xmlscan.AppendEscapedAttr(b, wsURL)
	b = append(b, "'/>\n  <Link rel='"+relBOSH+"' href='"...)
	b = xmlscan.AppendEscapedAttr(b, boshURL)
	return "application/xrd+xml", append(b, "'/>\n</XRD>\n"...)
}

// appendJSONString appends s as a JSON string (RFC 8259 §7).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[ch>>4], "0123456789abcdef"[ch&15])
		default:
			b = append(b, ch)
		}
	}
	return append(b, '"')
}
