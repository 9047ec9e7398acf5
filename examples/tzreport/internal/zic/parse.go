package zic

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Database is the content of one zic input file.
type Database struct {
	// Version is the tz release named by a leading "# version" comment, or "".
	Version string
	// Rules holds each rule set's lines in file order.
	Rules map[string][]Rule
	// Zones holds every well-formed zone whose rule sets exist.
	Zones map[string]*Zone
	// Links holds every link whose target is in Zones, by link name.
	Links map[string]Link
	// DataLines counts the lines that are not blank after comment stripping,
	// malformed ones included.
	DataLines int
}

// LineError describes a malformed line, or a line whose content contradicts
// the rest of the file (an undefined rule set, a duplicate name).
type LineError struct {
	// Line is the 1-based line number.
	Line int
	Err  error
}

// Error implements error.
func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the underlying error.
func (e LineError) Unwrap() error { return e.Err }

// Parse reads a zic input file. Malformed lines do not stop it: each is
// reported as a [LineError] and left out, together with the zone it belongs
// to, so the caller can decide how many are acceptable. The error is non-nil
// only when reading fails.
func Parse(r io.Reader) (*Database, []LineError, error) {
	p := parser{db: &Database{
		Rules: make(map[string][]Rule),
		Zones: make(map[string]*Zone),
		Links: make(map[string]Link),
	}}
	br := bufio.NewReader(r)
	for lineNo := 1; ; lineNo++ {
		text, err := br.ReadString('\n')
		if text == "" && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("read line %d: %w", lineNo, err)
		}
		p.line(lineNo, strings.TrimSuffix(text, "\n"))
	}
	p.finishZone()
	p.resolve()
	slices.SortStableFunc(p.errs, func(a, b LineError) int { return cmp.Compare(a.Line, b.Line) })
	return p.db, p.errs, nil
}

type parser struct {
	db   *Database
	errs []LineError
	// open is the zone whose last era has an UNTIL, so a continuation follows.
	open *Zone
	// skipping is set while the continuation lines of a broken zone go by.
	skipping    bool
	sawDataLine bool
	links       []Link
}

func (p *parser) fail(lineNo int, err error) {
	p.errs = append(p.errs, LineError{Line: lineNo, Err: err})
}

func (p *parser) line(lineNo int, text string) {
	if !p.sawDataLine && p.db.Version == "" {
		if v, ok := strings.CutPrefix(text, "# version "); ok {
			p.db.Version = strings.TrimSpace(v)
		}
	}
	var (
		l   Line
		err error
	)
	if len(text) > maxLineBytes {
		// The kind is unknown, so treat it as a line of the zone in progress if
		// one is open: that zone cannot be trusted any more.
		l, err = Line{Kind: ContinuationLine}, fmt.Errorf("line is longer than %d bytes", maxLineBytes)
	} else {
		l, err = ParseLine(text)
	}
	if l.Kind == BlankLine && err == nil {
		return
	}
	p.sawDataLine = true
	p.db.DataLines++

	if l.Kind != ContinuationLine {
		p.finishZone()
		p.skipping = false
	}
	if err != nil {
		p.failLine(lineNo, l, err)
		return
	}
	switch l.Kind {
	case RuleLine:
		l.Rule.Line = lineNo
		p.db.Rules[l.Rule.Name] = append(p.db.Rules[l.Rule.Name], l.Rule)
	case LinkLine:
		l.Link.Line = lineNo
		p.links = append(p.links, l.Link)
	case ZoneLine:
		l.Era.Line = lineNo
		if p.nameTaken(l.ZoneName) {
			p.fail(lineNo, fmt.Errorf("zone %s is defined more than once", l.ZoneName))
			p.skipping = l.Era.Until != nil
			return
		}
		p.open = &Zone{Name: l.ZoneName, Eras: []Era{l.Era}, Line: lineNo}
	case ContinuationLine:
		l.Era.Line = lineNo
		switch {
		case p.skipping:
			p.skipping = l.Era.Until != nil
			return
		case p.open == nil:
			p.fail(lineNo, errors.New("continuation line without a zone line with UNTIL above it"))
			return
		}
		p.open.Eras = append(p.open.Eras, l.Era)
	}
	if p.open != nil && p.open.Eras[len(p.open.Eras)-1].Until == nil {
		p.db.Zones[p.open.Name] = p.open
		p.open = nil
	}
}

// failLine records a malformed line and drops the zone it belongs to; the
// following continuation lines are skipped, since whether the bad line had an
// UNTIL cannot be known.
func (p *parser) failLine(lineNo int, l Line, err error) {
	switch l.Kind {
	case ZoneLine:
		p.skipping = true
	case ContinuationLine:
		if p.open != nil {
			err = fmt.Errorf("zone %s dropped: %w", p.open.Name, err)
			p.open = nil
			p.skipping = true
		}
	}
	p.fail(lineNo, err)
}

// finishZone reports a zone whose last line promised a continuation that never
// came.
func (p *parser) finishZone() {
	if p.open == nil {
		return
	}
	last := p.open.Eras[len(p.open.Eras)-1]
	p.fail(last.Line, fmt.Errorf("zone %s dropped: no continuation line follows its UNTIL", p.open.Name))
	p.open = nil
}

func (p *parser) nameTaken(name string) bool {
	if _, ok := p.db.Zones[name]; ok {
		return true
	}
	return p.open != nil && p.open.Name == name
}

// resolve checks what single lines cannot show: that eras end in order, that
// rule sets exist and that links point at zones.
func (p *parser) resolve() {
	for name, z := range p.db.Zones {
		if err := p.checkZone(z); err != nil {
			p.fail(err.Line, fmt.Errorf("zone %s dropped: %w", name, err.Err))
			delete(p.db.Zones, name)
		}
	}
	for _, l := range p.links {
		_, isZone := p.db.Zones[l.Name]
		_, isLink := p.db.Links[l.Name]
		switch {
		case isZone || isLink:
			p.fail(l.Line, fmt.Errorf("link name %s is already defined", l.Name))
		case p.db.Zones[l.Target] == nil:
			p.fail(l.Line, fmt.Errorf("link %s points at %s, which is not a valid zone",
				l.Name, l.Target))
		default:
			p.db.Links[l.Name] = l
		}
	}
}

func (p *parser) checkZone(z *Zone) *LineError {
	for i, e := range z.Eras {
		if e.Rules == NamedRules && len(p.db.Rules[e.RuleName]) == 0 {
			return &LineError{Line: e.Line, Err: fmt.Errorf("rule set %q is not defined", e.RuleName)}
		}
		if i == 0 || e.Until == nil {
			continue
		}
		if prev := z.Eras[i-1].Until; e.Until.localSeconds() <= prev.localSeconds() {
			return &LineError{Line: e.Line,
				Err: errors.New("UNTIL is not after the previous line's UNTIL")}
		}
	}
	return nil
}
