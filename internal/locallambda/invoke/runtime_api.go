package invoke

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Runtime API 2018-06-01 as one environment's process sees it on its
// own loopback listener (lambda-api.md §2.1):
//
//	GET  /2018-06-01/runtime/invocation/next           blocks; 200 with the event
//	POST /2018-06-01/runtime/invocation/{id}/response  202 (413 when too large)
//	POST /2018-06-01/runtime/invocation/{id}/error     202
//	POST /2018-06-01/runtime/init/error                202, then the process is stopped
//
// It is served by a small HTTP/1.1 loop over each connection (requests are
// parsed by net/http's ReadRequest) rather than an http.Server, so that the
// hot path has no per-request goroutine: a GET /next only registers its
// connection as waiting, and the invoke that dispatches an event writes it
// straight onto that connection from its own goroutine. The connection's
// goroutine meanwhile waits for the runtime's next request (its answer).

const runtimeAPIPrefix = "/2018-06-01/runtime/"

// runtimeConn is one connection from the runtime.
type runtimeConn struct {
	e  *environment
	c  net.Conn
	br *bufio.Reader

	wmu sync.Mutex // guards bw: the event may be written by an invoke's goroutine
	bw  *bufio.Writer
}

// acceptLoop serves the runtime's connections until the listener closes.
func (e *environment) acceptLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		rc := &runtimeConn{e: e, c: c, br: bufio.NewReaderSize(c, 8<<10), bw: bufio.NewWriterSize(c, 8<<10)}
		e.mu.Lock()
		if e.closedConns {
			e.mu.Unlock()
			c.Close()
			return
		}
		e.conns[rc] = struct{}{}
		e.mu.Unlock()
		go rc.serve()
	}
}

// closeConns closes the listener's connections (the process is gone).
func (e *environment) closeConns() {
	e.mu.Lock()
	e.closedConns = true
	conns := e.conns
	e.conns = nil
	e.mu.Unlock()
	for rc := range conns {
		rc.c.Close()
	}
}

func (rc *runtimeConn) serve() {
	defer func() {
		rc.c.Close()
		e := rc.e
		e.mu.Lock()
		if e.waiting == rc {
			e.waiting = nil
		}
		delete(e.conns, rc)
		e.mu.Unlock()
	}()
	for {
		req, err := http.ReadRequest(rc.br)
		if err != nil {
			return
		}
		if !rc.handle(req) || req.Close {
			return
		}
	}
}

// handle serves one request and reports whether the connection stays open.
func (rc *runtimeConn) handle(req *http.Request) bool {
	e := rc.e
	rest, ok := strings.CutPrefix(req.URL.Path, runtimeAPIPrefix)
	switch {
	case !ok:
	case rest == "invocation/next" && req.Method == http.MethodGet:
		e.offer(rc)
		return true
	case rest == "init/error" && req.Method == http.MethodPost:
		return e.initError(rc, req)
	case strings.HasPrefix(rest, "invocation/") && req.Method == http.MethodPost:
		id, kind, ok := strings.Cut(rest[len("invocation/"):], "/")
		switch {
		case ok && kind == "response":
			return e.response(rc, req, id)
		case ok && kind == "error":
			return e.invocationError(rc, req, id)
		}
	}
	discardBody(req)
	return rc.writeError(http.StatusNotFound, "InvalidRequest", "unknown Runtime API path "+req.URL.Path)
}

// offer registers a GET /next: it takes a dispatched invocation at once if
// one is pending, else waits for the next dispatch (dispatch).
func (e *environment) offer(rc *runtimeConn) {
	now := time.Now()
	e.mu.Lock()
	if !e.ready {
		e.ready = true
		e.readyAt = now
	}
	inv := e.inv
	if inv == nil || inv.delivered || inv.completed {
		e.waiting = rc
		e.mu.Unlock()
		return
	}
	inv.delivered = true
	inv.deliveredAt = now
	e.mu.Unlock()
	e.deliver(rc, inv)
	// The invoke waiting in run moves its timer to the invocation's
	// deadline (on a cold start it held the init limit until now).
	select {
	case e.taken <- struct{}{}:
	default:
	}
}

// dispatch hands inv to the environment: straight onto the waiting GET
// /next if there is one, else to the next one that arrives.
func (e *environment) dispatch(inv *invocation) (cold bool) {
	now := time.Now()
	e.mu.Lock()
	e.inv = inv
	cold = !e.ready
	rc := e.waiting
	if rc == nil {
		e.mu.Unlock()
		return cold
	}
	e.waiting = nil
	inv.delivered = true
	inv.deliveredAt = now
	e.mu.Unlock()
	e.deliver(rc, inv)
	return cold
}

// deliver writes inv as the answer to a GET /next. If the connection is
// broken the invocation is not delivered: the process's exit (or its next
// GET /next) decides what happens to it.
func (e *environment) deliver(rc *runtimeConn, inv *invocation) {
	deadline := inv.deliveredAt.Add(inv.timeout).UnixMilli()
	rc.wmu.Lock()
	w := rc.bw
	w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: ")
	w.WriteString(inv.id)
	w.WriteString("\r\nLambda-Runtime-Deadline-Ms: ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), deadline, 10))
	w.WriteString("\r\nLambda-Runtime-Invoked-Function-Arn: ")
	w.WriteString(inv.arn)
	w.WriteString("\r\nLambda-Runtime-Trace-Id: ")
	w.WriteString(inv.traceID)
	if inv.clientContext != "" {
		w.WriteString("\r\nLambda-Runtime-Client-Context: ")
		w.WriteString(inv.clientContext)
	}
	w.WriteString("\r\nContent-Length: ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(len(inv.payload)), 10))
	w.WriteString("\r\n\r\n")
	w.Write(inv.payload)
	err := w.Flush()
	rc.wmu.Unlock()
	if err != nil {
		rc.c.Close()
		e.mu.Lock()
		if e.inv == inv && !inv.completed {
			inv.delivered = false
		}
		e.mu.Unlock()
	}
}

// current returns the dispatched invocation if id names it and it is
// still waiting for its answer.
func (e *environment) current(id string) *invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	if inv := e.inv; inv != nil && inv.id == id && inv.delivered && !inv.completed {
		return inv
	}
	return nil
}

func (e *environment) response(rc *runtimeConn, req *http.Request, id string) bool {
	inv := e.current(id)
	if inv == nil {
		discardBody(req)
		return rc.writeError(http.StatusBadRequest, "InvalidRequestID", "invocation "+id+" is not in progress")
	}
	rc.expectContinue(req)
	buf := e.iv.getBuffer()
	_, err := buf.ReadFrom(io.LimitReader(req.Body, maxRuntimeResponse+1))
	switch {
	case buf.Len() > maxRuntimeResponse:
		buf.Reset()
		buf.Write(errorJSON("Function.ResponseSizeTooLarge",
			"Response payload size exceeded maximum allowed payload size ("+strconv.Itoa(maxRuntimeResponse)+" bytes)."))
		e.settle(inv, buf, "Function.ResponseSizeTooLarge")
		rc.writeError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "the response exceeds "+strconv.Itoa(maxRuntimeResponse)+" bytes")
		return false // the rest of the body is not read
	case err != nil:
		buf.Reset()
		buf.Write(errorJSON("Runtime.TruncatedResponse", "the runtime's response could not be read: "+err.Error()))
		e.settle(inv, buf, "Runtime.TruncatedResponse")
		return false
	case req.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "":
		// A streamed response that failed half-way (aws-lambda-go sends
		// the error in trailers).
		errorType := req.Trailer.Get("Lambda-Runtime-Function-Error-Type")
		body, derr := base64.StdEncoding.DecodeString(req.Trailer.Get("Lambda-Runtime-Function-Error-Body"))
		buf.Reset()
		if derr == nil && json.Valid(body) {
			buf.Write(body)
		} else {
			buf.Write(errorJSON(errorType, "the function's streamed response failed"))
		}
		e.settle(inv, buf, errorType)
	default:
		e.settle(inv, buf, "")
	}
	return rc.writeAccepted()
}

func (e *environment) invocationError(rc *runtimeConn, req *http.Request, id string) bool {
	inv := e.current(id)
	if inv == nil {
		discardBody(req)
		return rc.writeError(http.StatusBadRequest, "InvalidRequestID", "invocation "+id+" is not in progress")
	}
	rc.expectContinue(req)
	body, err := io.ReadAll(io.LimitReader(req.Body, maxRuntimeResponse))
	buf := e.iv.getBuffer()
	errorType := normalizeError(buf, body, req.Header.Get("Lambda-Runtime-Function-Error-Type"))
	e.settle(inv, buf, errorType)
	if err != nil {
		return false
	}
	discardBody(req)
	return rc.writeAccepted()
}

// settle completes inv with its answer and wakes the waiting invoke. After
// the signal the invoker owns inv; the caller must not touch it.
func (e *environment) settle(inv *invocation, buf *bytes.Buffer, errorType string) {
	e.mu.Lock()
	inv.completed = true
	inv.completedAt = time.Now()
	inv.resp = buf
	inv.errorType = errorType
	e.mu.Unlock()
	select {
	case e.done <- struct{}{}:
	default:
	}
}

func (e *environment) initError(rc *runtimeConn, req *http.Request) bool {
	rc.expectContinue(req)
	body, _ := io.ReadAll(io.LimitReader(req.Body, maxRuntimeResponse))
	buf := e.iv.getBuffer()
	normalizeError(buf, body, req.Header.Get("Lambda-Runtime-Function-Error-Type"))
	initErr := bytes.Clone(buf.Bytes())
	e.iv.putBuffer(buf)
	e.mu.Lock()
	e.initErr = initErr
	e.mu.Unlock()
	rc.writeAccepted()
	// As on AWS, a runtime that failed its init does not get to run.
	e.stop()
	return false
}

// normalizeError writes the error body the caller will see into buf and
// returns the error type. aws-lambda-go puts the type only in the body's
// "errorType"; other runtimes may send the Lambda-Runtime-Function-Error-Type
// header.
func normalizeError(buf *bytes.Buffer, body []byte, headerType string) string {
	var eb struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &eb) == nil {
		buf.Write(body)
		switch {
		case headerType != "":
			return headerType
		case eb.ErrorType != "":
			return eb.ErrorType
		}
		return "Unhandled"
	}
	errorType := headerType
	if errorType == "" {
		errorType = "Unhandled"
	}
	buf.Write(errorJSON(errorType, string(body)))
	return errorType
}

// expectContinue answers "Expect: 100-continue" before the body is read.
func (rc *runtimeConn) expectContinue(req *http.Request) {
	if strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
		rc.wmu.Lock()
		rc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		rc.bw.Flush()
		rc.wmu.Unlock()
	}
}

const acceptedResponse = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"

func (rc *runtimeConn) writeAccepted() bool {
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	rc.bw.WriteString(acceptedResponse)
	return rc.bw.Flush() == nil
}

// writeError answers in the Runtime API's error form.
func (rc *runtimeConn) writeError(status int, errorType, msg string) bool {
	body := errorJSON(errorType, msg)
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	w := rc.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(status))
	w.WriteString(" ")
	w.WriteString(http.StatusText(status))
	w.WriteString("\r\nContent-Type: application/json\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	w.WriteString("\r\n\r\n")
	w.Write(body)
	return w.Flush() == nil
}

// discardBody reads what is left of a small request body so the
// connection can serve the next request.
func discardBody(req *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, 1<<20))
}
