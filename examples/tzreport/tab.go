package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// lineIssue is a problem found at one line of an input file.
type lineIssue struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// tabFile is what is common to the .tab files: data rows and malformed lines.
type tabFile struct {
	dataLines int
	issues    []lineIssue
}

// zoneTabRow is one row of zone1970.tab.
type zoneTabRow struct {
	countries []string
	zone      string
	line      int
}

var (
	countryCodeRE = regexp.MustCompile(`^[A-Z]{2}$`)
	// coordinatesRE matches ISO 6709 ±DDMM±DDDMM or ±DDMMSS±DDDMMSS.
	coordinatesRE = regexp.MustCompile(`^([+-]\d{4}[+-]\d{5}|[+-]\d{6}[+-]\d{7})$`)
)

// readTabLines calls fn with each data line of a tab-separated tz file, skipping
// comments and blank lines, and records the lines fn rejects.
func readTabLines(r io.Reader, file string, fn func(fields []string, line int) error) (tabFile, error) {
	var tf tabFile
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasPrefix(text, "#") || strings.TrimSpace(text) == "" {
			continue
		}
		tf.dataLines++
		if err := fn(strings.Split(text, "\t"), line); err != nil {
			tf.issues = append(tf.issues, lineIssue{File: file, Line: line, Reason: err.Error()})
		}
	}
	if err := sc.Err(); err != nil {
		return tabFile{}, fmt.Errorf("read %s: %w", file, err)
	}
	return tf, nil
}

// parseZone1970 reads zone1970.tab: country codes, coordinates, zone name and
// an optional comment, separated by single tabs.
func parseZone1970(r io.Reader) ([]zoneTabRow, tabFile, error) {
	var rows []zoneTabRow
	tf, err := readTabLines(r, zone1970File, func(f []string, line int) error {
		if len(f) != 3 && len(f) != 4 {
			return fmt.Errorf("has %d tab-separated fields, want 3 or 4", len(f))
		}
		codes := strings.Split(f[0], ",")
		for _, c := range codes {
			if !countryCodeRE.MatchString(c) {
				return fmt.Errorf("invalid country code %q", c)
			}
		}
		if !coordinatesRE.MatchString(f[1]) {
			return fmt.Errorf("invalid coordinates %q", f[1])
		}
		if f[2] == "" {
			return errors.New("empty zone name")
		}
		rows = append(rows, zoneTabRow{countries: codes, zone: f[2], line: line})
		return nil
	})
	return rows, tf, err
}

// parseISO3166 reads iso3166.tab into a map from country code to name.
func parseISO3166(r io.Reader) (map[string]string, tabFile, error) {
	names := make(map[string]string)
	tf, err := readTabLines(r, iso3166File, func(f []string, _ int) error {
		if len(f) != 2 {
			return fmt.Errorf("has %d tab-separated fields, want 2", len(f))
		}
		if !countryCodeRE.MatchString(f[0]) {
			return fmt.Errorf("invalid country code %q", f[0])
		}
		if strings.TrimSpace(f[1]) == "" {
			return fmt.Errorf("empty name for country %s", f[0])
		}
		if _, dup := names[f[0]]; dup {
			return fmt.Errorf("country code %s is listed twice", f[0])
		}
		names[f[0]] = f[1]
		return nil
	})
	return names, tf, err
}
