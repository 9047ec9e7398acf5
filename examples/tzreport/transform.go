package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferryhq/ferry/examples/tzreport/internal/zic"
)

// summary is the job's result; it is written as summary.json and rendered as
// report.md.
type summary struct {
	TZDataVersion string `json:"tzdata_version"`
	AsOfYear      int    `json:"as_of_year"`
	// Continent is the filter applied, "" for all zones.
	Continent string `json:"continent"`
	TopN      int    `json:"top_n"`
	// YearStart and YearMiddle are the instants offsets are computed at.
	YearStart      time.Time        `json:"year_start"`
	YearMiddle     time.Time        `json:"year_middle"`
	Totals         totals           `json:"totals"`
	TopCountries   []countryCount   `json:"top_countries"`
	StdOffsets     []offsetCount    `json:"standard_offsets"`
	DSTByContinent []continentCount `json:"dst_by_continent"`
	Zones          []zoneResult     `json:"zones"`
	Validation     *validation      `json:"validation"`
}

type totals struct {
	// Zones counts the zone1970.tab zones analysed.
	Zones        int `json:"zones"`
	ObservingDST int `json:"observing_dst"`
	// Countries counts the countries those zones cover.
	Countries int `json:"countries"`
	// Links counts tzdata.zi's aliases within the continent filter.
	Links int `json:"links"`
	// OtherZones counts tzdata.zi zones not listed in zone1970.tab (kept for
	// compatibility, such as zones that agree with another since 1970).
	OtherZones int `json:"other_zones"`
}

type countryCount struct {
	Code  string `json:"code"`
	Name  string `json:"name"`
	Zones int    `json:"zones"`
}

type offsetCount struct {
	Offset        string `json:"offset"`
	OffsetSeconds int    `json:"offset_seconds"`
	Zones         int    `json:"zones"`
}

type continentCount struct {
	Continent    string `json:"continent"`
	Zones        int    `json:"zones"`
	ObservingDST int    `json:"observing_dst"`
}

// zoneResult is one zone's figures for the year.
type zoneResult struct {
	Name      string   `json:"name"`
	Countries []string `json:"countries"`
	// StdOffset is the standard offset in effect at the start of the year.
	StdOffset          string `json:"std_offset"`
	StdOffsetSeconds   int    `json:"std_offset_seconds"`
	StartOffset        string `json:"start_offset"`
	StartOffsetSeconds int    `json:"start_offset_seconds"`
	StartAbbrev        string `json:"start_abbrev"`
	MidOffset          string `json:"mid_offset"`
	MidOffsetSeconds   int    `json:"mid_offset_seconds"`
	MidAbbrev          string `json:"mid_abbrev"`
	// ObservesDST reports whether daylight saving time applies at any moment of
	// the year (for Ireland and Morocco that includes "negative" DST).
	ObservesDST bool `json:"observes_dst"`
	// Changes counts offset or abbreviation changes during the year.
	Changes int `json:"changes"`
}

// transform computes each zone's offsets for the year and the aggregates.
func transform(ds *dataset, v *validation, p parameters) (*summary, error) {
	yearStart := time.Date(p.AsOfYear, time.January, 1, 0, 0, 0, 0, time.UTC)
	yearEnd := yearStart.AddDate(1, 0, 0)
	s := &summary{
		TZDataVersion: ds.db.Version,
		AsOfYear:      p.AsOfYear,
		Continent:     p.Continent,
		TopN:          p.TopN,
		YearStart:     yearStart,
		YearMiddle:    yearStart.Add(yearEnd.Sub(yearStart) / 2),
		Validation:    v,
	}

	listed := make(map[string]bool)
	perCountry := make(map[string]int)
	perOffset := make(map[time.Duration]int)
	perContinent := make(map[string]*continentCount)
	for _, row := range ds.zoneTab {
		listed[row.zone] = true
		if v.badRows[row.line] || !inContinent(row.zone, p.Continent) {
			continue
		}
		ps, err := ds.db.Periods(row.zone, yearStart, yearEnd)
		if err != nil {
			return nil, fmt.Errorf("transform zone %s: %w", row.zone, err)
		}
		start := ps[0].Offset
		mid := offsetAt(ps, s.YearMiddle)
		z := zoneResult{
			Name:               row.zone,
			Countries:          row.countries,
			StdOffset:          formatOffset(start.StdOffset),
			StdOffsetSeconds:   int(start.StdOffset / time.Second),
			StartOffset:        formatOffset(start.UTCOffset),
			StartOffsetSeconds: int(start.UTCOffset / time.Second),
			StartAbbrev:        start.Abbrev,
			MidOffset:          formatOffset(mid.UTCOffset),
			MidOffsetSeconds:   int(mid.UTCOffset / time.Second),
			MidAbbrev:          mid.Abbrev,
			ObservesDST:        slices.ContainsFunc(ps, func(p zic.Period) bool { return p.IsDST }),
			Changes:            len(ps) - 1,
		}
		s.Zones = append(s.Zones, z)

		for _, c := range row.countries {
			perCountry[c]++
		}
		perOffset[start.StdOffset]++
		cont := continentOf(row.zone)
		cc := perContinent[cont]
		if cc == nil {
			cc = &continentCount{Continent: cont}
			perContinent[cont] = cc
		}
		cc.Zones++
		if z.ObservesDST {
			cc.ObservingDST++
			s.Totals.ObservingDST++
		}
	}
	slices.SortFunc(s.Zones, func(a, b zoneResult) int { return strings.Compare(a.Name, b.Name) })

	s.Totals.Zones = len(s.Zones)
	s.Totals.Countries = len(perCountry)
	for name := range ds.db.Links {
		if inContinent(name, p.Continent) {
			s.Totals.Links++
		}
	}
	for name := range ds.db.Zones {
		if !listed[name] && inContinent(name, p.Continent) {
			s.Totals.OtherZones++
		}
	}

	for code, n := range perCountry {
		s.TopCountries = append(s.TopCountries,
			countryCount{Code: code, Name: ds.countries[code], Zones: n})
	}
	slices.SortFunc(s.TopCountries, func(a, b countryCount) int {
		return cmp.Or(cmp.Compare(b.Zones, a.Zones), strings.Compare(a.Code, b.Code))
	})
	s.TopCountries = s.TopCountries[:min(p.TopN, len(s.TopCountries))]

	for off, n := range perOffset {
		s.StdOffsets = append(s.StdOffsets, offsetCount{
			Offset: formatOffset(off), OffsetSeconds: int(off / time.Second), Zones: n,
		})
	}
	slices.SortFunc(s.StdOffsets, func(a, b offsetCount) int {
		return cmp.Compare(a.OffsetSeconds, b.OffsetSeconds)
	})

	for _, cc := range perContinent {
		s.DSTByContinent = append(s.DSTByContinent, *cc)
	}
	slices.SortFunc(s.DSTByContinent, func(a, b continentCount) int {
		return strings.Compare(a.Continent, b.Continent)
	})
	return s, nil
}

// offsetAt returns the offset in effect at t among periods sorted by start.
func offsetAt(ps []zic.Period, t time.Time) zic.Offset {
	o := ps[0].Offset
	for _, p := range ps[1:] {
		if p.Start.After(t) {
			break
		}
		o = p.Offset
	}
	return o
}

// continentOf returns the area part of a zone name, "Europe" for "Europe/Paris".
func continentOf(zone string) string {
	area, _, _ := strings.Cut(zone, "/")
	return area
}

func inContinent(zone, continent string) bool {
	return continent == "" || continentOf(zone) == continent
}

// formatOffset formats an offset from UTC as ±hh:mm, or ±hh:mm:ss when it has
// seconds.
func formatOffset(d time.Duration) string {
	secs := int64(d / time.Second)
	sign := "+"
	if secs < 0 {
		sign, secs = "-", -secs
	}
	if secs%60 != 0 {
		return fmt.Sprintf("%s%02d:%02d:%02d", sign, secs/3600, secs/60%60, secs%60)
	}
	return fmt.Sprintf("%s%02d:%02d", sign, secs/3600, secs/60%60)
}
