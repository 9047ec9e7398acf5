package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferryhq/ferry/examples/tzreport/internal/zic"
)

// The data files, read from the data directory.
const (
	ziFile       = "tzdata.zi"
	zone1970File = "zone1970.tab"
	iso3166File  = "iso3166.tab"
)

// maxMalformedFraction is the share of a file's data lines that may be malformed
// before the run refuses to continue: a few bad lines are reported and skipped,
// more mean the file is damaged or of an unknown format.
const maxMalformedFraction = 0.01

// maxLoggedIssues bounds the warnings logged per file; summary.json lists all.
const maxLoggedIssues = 20

// errFailOnPurpose is returned when the fail_on_purpose parameter is set.
var errFailOnPurpose = errors.New("failing on purpose after extract because fail_on_purpose is true")

// dataset is everything extracted from the data directory.
type dataset struct {
	db        *zic.Database
	ziIssues  []lineIssue
	zoneTab   []zoneTabRow
	zoneFile  tabFile
	countries map[string]string
	isoFile   tabFile
}

// pipeline runs the job's steps and returns the absolute path of report.md.
func pipeline(ctx context.Context, logger *slog.Logger, dataDir string, p parameters) (string, error) {
	started := time.Now()
	ds, err := extract(ctx, logger, dataDir)
	if err != nil {
		return "", err
	}
	if p.FailOnPurpose {
		return "", errFailOnPurpose
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("after extract: %w", context.Cause(ctx))
	}

	v, err := validate(ctx, logger, ds)
	if err != nil {
		return "", err
	}

	s, err := transform(ds, v, p)
	if err != nil {
		return "", err
	}
	logger.InfoContext(ctx, "step finished", "step", "transform",
		"zones", s.Totals.Zones, "observing_dst", s.Totals.ObservingDST,
		"countries", s.Totals.Countries, "links", s.Totals.Links)
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("after transform: %w", context.Cause(ctx))
	}

	reportPath, summaryPath, err := load(p.OutputDir, s)
	if err != nil {
		return "", err
	}
	logger.InfoContext(ctx, "step finished", "step", "load",
		"report", reportPath, "summary", summaryPath, "duration", time.Since(started))
	return reportPath, nil
}

func extract(ctx context.Context, logger *slog.Logger, dataDir string) (*dataset, error) {
	var ds dataset
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dataDir, name))
		if err != nil {
			return nil, fmt.Errorf("read data file: %w", err)
		}
		return b, nil
	}

	zi, err := read(ziFile)
	if err != nil {
		return nil, err
	}
	db, lineErrs, err := zic.Parse(bytes.NewReader(zi))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", ziFile, err)
	}
	ds.db = db
	for _, le := range lineErrs {
		ds.ziIssues = append(ds.ziIssues, lineIssue{File: ziFile, Line: le.Line, Reason: le.Err.Error()})
	}
	rules := 0
	for _, rs := range db.Rules {
		rules += len(rs)
	}
	logger.InfoContext(ctx, "step finished", "step", "extract", "file", ziFile,
		"version", db.Version, "data_lines", db.DataLines, "zones", len(db.Zones),
		"rules", rules, "rule_sets", len(db.Rules), "links", len(db.Links),
		"malformed", len(ds.ziIssues))

	zt, err := read(zone1970File)
	if err != nil {
		return nil, err
	}
	if ds.zoneTab, ds.zoneFile, err = parseZone1970(bytes.NewReader(zt)); err != nil {
		return nil, err
	}
	logger.InfoContext(ctx, "step finished", "step", "extract", "file", zone1970File,
		"rows", len(ds.zoneTab), "malformed", len(ds.zoneFile.issues))

	iso, err := read(iso3166File)
	if err != nil {
		return nil, err
	}
	if ds.countries, ds.isoFile, err = parseISO3166(bytes.NewReader(iso)); err != nil {
		return nil, err
	}
	logger.InfoContext(ctx, "step finished", "step", "extract", "file", iso3166File,
		"countries", len(ds.countries), "malformed", len(ds.isoFile.issues))
	return &ds, nil
}

// validation is the outcome of the validate step.
type validation struct {
	Issues []lineIssue `json:"issues"`
	// MissingZones are zone1970.tab zones that tzdata.zi does not define.
	MissingZones []string `json:"missing_zones"`
	// UnknownCountryCodes are zone1970.tab codes absent from iso3166.tab.
	UnknownCountryCodes []string `json:"unknown_country_codes"`
	// badRows are the zone1970.tab lines left out of the analysis.
	badRows map[int]bool
}

// validate reports malformed lines and checks zone1970.tab against the other
// two files. It fails when too large a share of any file is unusable.
func validate(ctx context.Context, logger *slog.Logger, ds *dataset) (*validation, error) {
	v := &validation{
		Issues:              []lineIssue{},
		MissingZones:        []string{},
		UnknownCountryCodes: []string{},
		badRows:             make(map[int]bool),
	}
	missing := make(map[string]bool)
	unknown := make(map[string]bool)
	var crossIssues []lineIssue
	for _, row := range ds.zoneTab {
		if _, ok := ds.db.Lookup(row.zone); !ok {
			missing[row.zone] = true
			v.badRows[row.line] = true
			crossIssues = append(crossIssues, lineIssue{File: zone1970File, Line: row.line,
				Reason: fmt.Sprintf("zone %s is not defined in %s", row.zone, ziFile)})
		}
		for _, c := range row.countries {
			if _, ok := ds.countries[c]; !ok {
				unknown[c] = true
				v.badRows[row.line] = true
				crossIssues = append(crossIssues, lineIssue{File: zone1970File, Line: row.line,
					Reason: fmt.Sprintf("country code %s is not listed in %s", c, iso3166File)})
			}
		}
	}
	v.MissingZones = slices.AppendSeq(v.MissingZones, maps.Keys(missing))
	slices.Sort(v.MissingZones)
	v.UnknownCountryCodes = slices.AppendSeq(v.UnknownCountryCodes, maps.Keys(unknown))
	slices.Sort(v.UnknownCountryCodes)

	zoneIssues := slices.Concat(ds.zoneFile.issues, crossIssues)
	slices.SortStableFunc(zoneIssues, func(a, b lineIssue) int { return cmp.Compare(a.Line, b.Line) })
	files := []struct {
		name      string
		issues    []lineIssue
		badLines  int
		dataLines int
	}{
		{ziFile, ds.ziIssues, len(ds.ziIssues), ds.db.DataLines},
		{zone1970File, zoneIssues, len(ds.zoneFile.issues) + len(v.badRows), ds.zoneFile.dataLines},
		{iso3166File, ds.isoFile.issues, len(ds.isoFile.issues), ds.isoFile.dataLines},
	}
	var tooMany []string
	for _, f := range files {
		for i, is := range f.issues {
			if i == maxLoggedIssues {
				logger.WarnContext(ctx, "more malformed lines not logged", "step", "validate",
					"file", f.name, "not_logged", len(f.issues)-maxLoggedIssues)
				break
			}
			logger.WarnContext(ctx, "malformed line skipped", "step", "validate",
				"file", f.name, "line", is.Line, "reason", is.Reason)
		}
		v.Issues = append(v.Issues, f.issues...)
		if f.dataLines == 0 {
			tooMany = append(tooMany, f.name+" has no data lines")
			continue
		}
		if float64(f.badLines) > maxMalformedFraction*float64(f.dataLines) {
			tooMany = append(tooMany, fmt.Sprintf("%s has %d unusable of %d data lines",
				f.name, f.badLines, f.dataLines))
		}
	}
	logger.InfoContext(ctx, "step finished", "step", "validate",
		"issues", len(v.Issues), "missing_zones", len(v.MissingZones),
		"unknown_country_codes", len(v.UnknownCountryCodes))
	if len(tooMany) > 0 {
		return nil, fmt.Errorf("validate: refusing to continue, more than %g%% unusable: %s",
			maxMalformedFraction*100, strings.Join(tooMany, "; "))
	}
	return v, nil
}
