package padeval

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on a labels file.
const (
	MaxLabelsBytes = 16 << 20
	MaxRows        = 200_000
	maxField       = 4096
)

// ErrLabels means the labels file is malformed; the message says where.
var ErrLabels = errors.New("padeval: malformed labels file")

// Row is one labelled image.
type Row struct {
	File   string // path, relative to the labels file's folder unless absolute
	Live   bool   // label "live" (bona fide) or "spoof" (attack)
	Attack string // attack type (PAI species) for spoof rows; "" → "spoof"
	Group  string // capture session, for session-disjoint cross-validation ("" if none)
	Line   int
}

// ParseLabels reads a CSV of file,label[,attack]: label is live or spoof.
// A first line starting with "file" is a header; with a header, columns
// named "subject" and "session" (if present) define the capture group used
// for session-disjoint cross-validation, and columns may come in any order
// after file and label. At most [MaxLabelsBytes] and [MaxRows].
func ParseLabels(r io.Reader) ([]Row, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxLabelsBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxLabelsBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrLabels, MaxLabelsBytes)
	}
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	col := map[string]int{"file": 0, "label": 1, "attack": 2}
	var rows []Row
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrLabels, err)
		}
		if line == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "file") {
			col = map[string]int{}
			for i, h := range rec {
				col[strings.ToLower(strings.TrimSpace(h))] = i
			}
			if _, ok := col["label"]; !ok {
				return nil, fmt.Errorf("%w: header has no label column", ErrLabels)
			}
			continue
		}
		if len(rows) >= MaxRows {
			return nil, fmt.Errorf("%w: more than %d rows", ErrLabels, MaxRows)
		}
		get := func(name string) string {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		row := Row{File: get("file"), Attack: get("attack"), Line: line}
		for _, f := range rec {
			if len(f) > maxField {
				return nil, fmt.Errorf("%w: line %d: field longer than %d bytes", ErrLabels, line, maxField)
			}
		}
		if row.File == "" {
			return nil, fmt.Errorf("%w: line %d: no file", ErrLabels, line)
		}
		switch strings.ToLower(get("label")) {
		case "live":
			row.Live, row.Attack = true, ""
		case "spoof":
			if row.Attack == "" || strings.EqualFold(row.Attack, "none") {
				row.Attack = "spoof"
			}
		default:
			return nil, fmt.Errorf("%w: line %d: label %q, want live or spoof", ErrLabels, line, get("label"))
		}
		if s := get("session"); s != "" {
			row.Group = get("subject") + "/" + s
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no rows", ErrLabels)
	}
	return rows, nil
}
