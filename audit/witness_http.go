package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Limits of the tlog-witness client.
const (
	// maxWitnessResponse bounds a witness's answer: cosignature lines
	// (about 120 bytes each), a size, or an error text.
	maxWitnessResponse = 16 << 10
	// maxConsistencyProof bounds a consistency proof (2 log2(n) hashes).
	maxConsistencyProof = 128
	// DefaultWitnessTimeout bounds one add-checkpoint exchange when the
	// caller's context has no earlier deadline.
	DefaultWitnessTimeout = 10 * time.Second
)

// HTTPWitnessOptions configure [NewHTTPWitness]. The zero value selects
// defaults.
type HTTPWitnessOptions struct {
	// Client sends the requests (default: a client that follows no
	// redirect). Its Timeout, if any, applies too.
	Client *http.Client
	// Timeout bounds each add-checkpoint exchange (default
	// [DefaultWitnessTimeout]).
	Timeout time.Duration
}

// HTTPWitness is a client of a C2SP tlog-witness server: it POSTs
// checkpoints to <url>/add-checkpoint and verifies the cosignature it gets
// back with the witness's key. It remembers, per log origin, the size the
// witness last cosigned, so that it sends the consistency proof from there;
// when it does not know (first use, restart) the witness tells it (HTTP
// 409 with its size) and it retries once. It is safe for concurrent use.
type HTTPWitness struct {
	url      string
	verifier note.Verifier
	client   *http.Client
	timeout  time.Duration

	mu    sync.Mutex
	known map[string]int64 // origin → size the witness holds, as last learnt
}

// NewHTTPWitness returns a client of the witness at baseURL (e.g.
// "https://witness.example.org" or "http://127.0.0.1:7380"; the request
// goes to baseURL+"/add-checkpoint"), whose cosignatures verify with
// vkey (see [NewCosignatureVerifier]).
func NewHTTPWitness(baseURL, vkey string, opt HTTPWitnessOptions) (*HTTPWitness, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("audit: witness URL %q: want http(s)://host[/path]", baseURL)
	}
	v, err := NewCosignatureVerifier(vkey)
	if err != nil {
		return nil, err
	}
	c := opt.Client
	if c == nil {
		c = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultWitnessTimeout
	}
	return &HTTPWitness{url: strings.TrimSuffix(baseURL, "/") + "/add-checkpoint", verifier: v, client: c,
		timeout: opt.Timeout, known: map[string]int64{}}, nil
}

// Name is the witness's name (from its key).
func (w *HTTPWitness) Name() string { return w.verifier.Name() }

// Cosign submits checkpoint (a signed note, at most 16 KiB) and returns the
// witness's verified cosignature lines. proof is called for the
// consistency proof from the size the witness holds. Errors: one wrapping
// [ErrWitnessRefused] when the witness refuses the checkpoint as
// inconsistent (HTTP 422), or holds a larger tree than it (a rollback);
// [ErrBadProof] when the answer does not verify with the witness's key;
// others (unknown log, bad log signature, network, timeouts) say what
// happened and are not evidence against the log.
func (w *HTTPWitness) Cosign(ctx context.Context, checkpoint []byte, proof ProofFunc) ([]byte, error) {
	if len(checkpoint) > maxCheckpointNote {
		return nil, fmt.Errorf("audit: witness %s: checkpoint of %d bytes, limit %d", w.Name(), len(checkpoint), maxCheckpointNote)
	}
	origin, size, err := checkpointHead(checkpoint)
	if err != nil {
		return nil, fmt.Errorf("audit: witness %s: %w", w.Name(), err)
	}
	w.mu.Lock()
	old, ok := w.known[origin]
	w.mu.Unlock()
	if !ok {
		old = 0 // unknown: the witness answers 409 with its size
	}
	for attempt := 0; ; attempt++ {
		if old > size {
			w.forget(origin)
			return nil, fmt.Errorf("%w: witness %s holds a checkpoint of %d entries, this one has %d: the log was rolled back or forked", ErrWitnessRefused, w.Name(), old, size)
		}
		var hashes []tlog.Hash
		if old > 0 && old < size {
			if hashes, err = proof(old); err != nil {
				return nil, fmt.Errorf("audit: witness %s: consistency proof %d→%d: %w", w.Name(), old, size, err)
			}
			if len(hashes) > maxConsistencyProof {
				return nil, fmt.Errorf("audit: witness %s: consistency proof of %d hashes", w.Name(), len(hashes))
			}
		}
		status, body, err := w.post(ctx, addCheckpointBody(old, hashes, checkpoint))
		if err != nil {
			return nil, err
		}
		switch status {
		case http.StatusOK:
			sigs, err := verifyCosignature(checkpoint, body, w.verifier)
			if err != nil {
				return nil, err
			}
			w.remember(origin, size)
			return sigs, nil
		case http.StatusConflict:
			n, err := parseWitnessSize(body)
			if err != nil {
				return nil, fmt.Errorf("audit: witness %s: HTTP 409: %w", w.Name(), err)
			}
			if attempt > 0 {
				return nil, fmt.Errorf("audit: witness %s: HTTP 409 twice (it now holds %d entries): concurrent submissions?", w.Name(), n)
			}
			old = n
			w.remember(origin, n)
			continue
		case http.StatusUnprocessableEntity:
			w.forget(origin)
			return nil, fmt.Errorf("%w: witness %s: the checkpoint of %d entries is not consistent with the one of %d it holds (HTTP 422: %s)", ErrWitnessRefused, w.Name(), size, old, errText(body))
		case http.StatusNotFound:
			return nil, fmt.Errorf("audit: witness %s does not know the log %q (HTTP 404: %s)", w.Name(), origin, errText(body))
		case http.StatusForbidden:
			return nil, fmt.Errorf("audit: witness %s refused the log's signature or does not know the log %q (HTTP 403: %s)", w.Name(), origin, errText(body))
		default:
			return nil, fmt.Errorf("audit: witness %s: HTTP %d: %s", w.Name(), status, errText(body))
		}
	}
}

func (w *HTTPWitness) remember(origin string, size int64) {
	w.mu.Lock()
	w.known[origin] = size
	w.mu.Unlock()
}

func (w *HTTPWitness) forget(origin string) {
	w.mu.Lock()
	delete(w.known, origin)
	w.mu.Unlock()
}

// post sends one add-checkpoint request and reads at most
// maxWitnessResponse bytes of the answer.
func (w *HTTPWitness) post(ctx context.Context, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("audit: witness %s: %w", w.Name(), err)
	}
	req.Header.Set("User-Agent", "oneface-audit/"+Version)
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("audit: witness %s: %w", w.Name(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxWitnessResponse+1))
	if err != nil {
		return 0, nil, fmt.Errorf("audit: witness %s: reading the answer: %w", w.Name(), err)
	}
	if len(data) > maxWitnessResponse {
		return 0, nil, fmt.Errorf("audit: witness %s: answer larger than %d bytes", w.Name(), maxWitnessResponse)
	}
	return resp.StatusCode, data, nil
}

// addCheckpointBody is the C2SP tlog-witness request: "old N", the proof
// hashes in base64 one a line, an empty line, the signed checkpoint.
func addCheckpointBody(old int64, proof []tlog.Hash, checkpoint []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(h.String() + "\n")
	}
	b.WriteString("\n")
	b.Write(checkpoint)
	return b.Bytes()
}

// parseWitnessSize parses a 409 answer: a decimal tree size and a newline.
func parseWitnessSize(body []byte) (int64, error) {
	s, ok := strings.CutSuffix(string(body), "\n")
	n, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, errors.New("malformed tree size in the answer")
	}
	return n, nil
}

// checkpointHead reads the origin and size of a signed checkpoint note
// without verifying it (the witness does, with the log's key).
func checkpointHead(cp []byte) (origin string, size int64, err error) {
	text, ok := noteText(cp)
	if !ok {
		return "", 0, malformed("checkpoint is not a signed note")
	}
	lines := strings.SplitN(string(text), "\n", 3)
	if len(lines) < 3 || lines[0] == "" {
		return "", 0, malformed("checkpoint: want origin, size and root lines")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return "", 0, malformed("checkpoint size %q", lines[1])
	}
	return lines[0], n, nil
}

// errText is a printable, short excerpt of a witness's error answer.
func errText(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strconv.Quote(s)
}
