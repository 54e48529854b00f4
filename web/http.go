package web

import (
	"bytes"
	"strconv"
	"strings"
)

// pstate is where the request parser is in a request.
type pstate uint8

const (
	psRequestLine pstate = iota // reading "METHOD target HTTP/1.x"
	psHeaderLine                // reading header fields until the empty line
	psBody                      // reading Content-Length bytes
	psComplete                  // a whole request is in req; reset before the next
)

func (s pstate) String() string {
	switch s {
	case psRequestLine:
		return "request-line"
	case psHeaderLine:
		return "header-line"
	case psBody:
		return "body"
	case psComplete:
		return "complete"
	}
	return "pstate?"
}

// request is one parsed HTTP/1.1 request: only the fields the listener uses.
type request struct {
	method, target string
	http10         bool
	host, origin   string
	upgrade        string // Upgrade
	connection     string // Connection, lower-cased tokens
	wsKey          string // Sec-WebSocket-Key
	wsVersion      string // Sec-WebSocket-Version
	wsProtocol     string // Sec-WebSocket-Protocol
	contentLength  int64  // -1 when absent
	body           []byte
}

// keepAlive reports whether the connection stays open after the response
// (RFC 9112 §9.3): HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
// "Connection: keep-alive".
func (r *request) keepAlive() bool {
	if r.http10 {
		return hasToken(r.connection, "keep-alive")
	}
	return !hasToken(r.connection, "close")
}

// path is the request target without its query.
func (r *request) path() string {
	if i := strings.IndexByte(r.target, '?'); i >= 0 {
		return r.target[:i]
	}
	return r.target
}

// httpError is a request the parser refuses, with the status to answer.
type httpError struct {
	status int
	text   string
}

func (e *httpError) Error() string { return strconv.Itoa(e.status) + " " + e.text }

// parser reads HTTP/1.1 requests incrementally: feed it bytes as they come,
// split anywhere. It buffers one header line at a time and the body, each
// bounded by the limits, so a slow or hostile client holds little memory.
type parser struct {
	state   pstate
	line    []byte // the partial line being read
	hdrSize int    // bytes of the head so far (request line and fields)
	nhdr    int
	req     request
	lim     *Limits
}

func newParser(lim *Limits) *parser {
	p := &parser{lim: lim}
	p.reset()
	return p
}

// reset readies the parser for the next request on the connection.
func (p *parser) reset() {
	p.state = psRequestLine
	p.line = p.line[:0]
	p.hdrSize, p.nhdr = 0, 0
	p.req = request{contentLength: -1}
}

// feed consumes bytes of b until a request is complete (state psComplete)
// or b is used up, and returns how many it consumed. The bytes after a
// complete request belong to the next one (pipelining) or, after an
// upgrade, to the WebSocket.
func (p *parser) feed(b []byte) (int, *httpError) {
	n := 0
	for n < len(b) && p.state != psComplete {
		if p.state == psBody {
			take := min(int64(len(b)-n), p.req.contentLength-int64(len(p.req.body)))
			p.req.body = append(p.req.body, b[n:n+int(take)]...)
			n += int(take)
			if int64(len(p.req.body)) == p.req.contentLength {
				p.state = psComplete
			}
			continue
		}
		i := bytes.IndexByte(b[n:], '\n')
		end := len(b)
		if i >= 0 {
			end = n + i + 1
		}
		p.hdrSize += end - n
		if p.hdrSize > p.lim.MaxHeaderBytes {
			if p.state == psRequestLine {
				return n, &httpError{414, "URI Too Long"}
			}
			return n, &httpError{431, "Request Header Fields Too Large"}
		}
		p.line = append(p.line, b[n:end]...)
		n = end
		if i < 0 {
			break
		}
		line := bytes.TrimSuffix(bytes.TrimSuffix(p.line, []byte{'\n'}), []byte{'\r'})
		var err *httpError
		if p.state == psRequestLine {
			err = p.requestLine(line)
		} else {
			err = p.headerLine(line)
		}
		p.line = p.line[:0]
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (p *parser) requestLine(line []byte) *httpError {
	if len(line) == 0 && p.hdrSize <= 2 {
		p.hdrSize = 0 // RFC 9112 §2.2: an empty line before a request is ignored
		return nil
	}
	parts := strings.Split(string(line), " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[1][0] != '/' && parts[1] != "*" {
		return &httpError{400, "Bad Request"}
	}
	switch parts[2] {
	case "HTTP/1.1":
	case "HTTP/1.0":
		p.req.http10 = true
	default:
		if strings.HasPrefix(parts[2], "HTTP/") {
			return &httpError{505, "HTTP Version Not Supported"}
		}
		return &httpError{400, "Bad Request"}
	}
	p.req.method, p.req.target = parts[0], parts[1]
	p.state = psHeaderLine
	return nil
}

func (p *parser) headerLine(line []byte) *httpError {
	if len(line) == 0 {
		return p.endOfHead()
	}
	p.nhdr++
	if p.nhdr > p.lim.MaxHeaders {
		return &httpError{431, "Request Header Fields Too Large"}
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || line[0] == ' ' || line[0] == '\t' || bytes.ContainsAny(line[:colon], " \t") {
		// no name, obsolete line folding, or white space before the colon (RFC 9112 §5.1)
		return &httpError{400, "Bad Request"}
	}
	name := string(bytes.ToLower(line[:colon]))
	value := string(bytes.TrimSpace(line[colon+1:]))
	r := &p.req
	switch name {
	case "host":
		r.host = value
	case "origin":
		r.origin = value
	case "upgrade":
		r.upgrade = value
	case "connection":
		r.connection = joinField(r.connection, strings.ToLower(value))
	case "sec-websocket-key":
		r.wsKey = value
	case "sec-websocket-version":
		r.wsVersion = value
	case "sec-websocket-protocol":
		r.wsProtocol = joinField(r.wsProtocol, value)
	case "content-length":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 || r.contentLength >= 0 && r.contentLength != n {
			return &httpError{400, "Bad Request"}
		}
		r.contentLength = n
	case "transfer-encoding":
		// BOSH clients send a Content-Length; chunked uploads are not needed
		return &httpError{501, "Not Implemented"}
	}
	return nil
}

// endOfHead decides whether a body follows (RFC 9112 §6.3).
func (p *parser) endOfHead() *httpError {
	if p.req.host == "" && !p.req.http10 {
		return &httpError{400, "Bad Request"} // RFC 9112 §3.2: Host is required
	}
	switch {
	case p.req.contentLength > int64(p.lim.MaxBodyBytes):
		return &httpError{413, "Content Too Large"}
	case p.req.contentLength > 0:
		p.req.body = make([]byte, 0, p.req.contentLength)
		p.state = psBody
	case p.req.contentLength < 0 && p.req.method == "POST":
		return &httpError{411, "Length Required"}
	default:
		p.state = psComplete
	}
	return nil
}

func joinField(old, v string) string {
	if old == "" {
		return v
	}
	return old + ", " + v
}

// hasToken reports whether the comma-separated list holds tok (ASCII case-insensitive).
func hasToken(list, tok string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}
