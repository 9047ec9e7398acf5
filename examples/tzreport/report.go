package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// load writes report.md and summary.json into dir, creating it if needed, and
// returns their absolute paths. Each file is written to a temporary name and
// renamed, so a reader never sees half a report, even after a failed attempt.
func load(dir string, s *summary) (string, string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", fmt.Errorf("load: resolve output_dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", "", fmt.Errorf("load: create output_dir: %w", err)
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("load: encode summary: %w", err)
	}
	summaryPath := filepath.Join(abs, "summary.json")
	if err := writeAtomic(summaryPath, append(js, '\n')); err != nil {
		return "", "", err
	}
	reportPath := filepath.Join(abs, "report.md")
	if err := writeAtomic(reportPath, []byte(renderReport(s))); err != nil {
		return "", "", err
	}
	return reportPath, summaryPath, nil
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("load: create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("load: write %s: %w", path, err)
	}
	return nil
}

// reportTime is how the report shows an instant.
const reportTime = "2006-01-02 15:04 UTC"

// renderReport renders the summary as Markdown.
func renderReport(s *summary) string {
	var b strings.Builder
	scope := "all areas"
	if s.Continent != "" {
		scope = s.Continent
	}
	fmt.Fprintf(&b, "# Time zones in %d (%s)\n\n", s.AsOfYear, scope)
	fmt.Fprintf(&b, "Computed from the IANA tz database, release %s (the copy committed with "+
		"this example), for the zones of `zone1970.tab`. Offsets are taken at the start of the "+
		"year (%s) and at its middle (%s).\n\n",
		s.TZDataVersion, s.YearStart.Format(reportTime), s.YearMiddle.Format(reportTime))

	b.WriteString("## Summary\n\n")
	table(&b, []string{"Measure", "Value"}, [][]string{
		{"Zones analysed", fmt.Sprint(s.Totals.Zones)},
		{fmt.Sprintf("Zones observing DST in %d", s.AsOfYear), fmt.Sprint(s.Totals.ObservingDST)},
		{"Countries covered", fmt.Sprint(s.Totals.Countries)},
		{"Links (aliases)", fmt.Sprint(s.Totals.Links)},
		{"Other zones in tzdata.zi (not in zone1970.tab)", fmt.Sprint(s.Totals.OtherZones)},
	})

	fmt.Fprintf(&b, "## Countries with the most zones (top %d)\n\n", s.TopN)
	var rows [][]string
	for i, c := range s.TopCountries {
		rows = append(rows, []string{fmt.Sprint(i + 1), c.Code, c.Name, fmt.Sprint(c.Zones)})
	}
	table(&b, []string{"Rank", "Code", "Country", "Zones"}, rows)

	b.WriteString("## Standard offsets on 1 January\n\n")
	rows = nil
	for _, o := range s.StdOffsets {
		rows = append(rows, []string{"UTC" + o.Offset, fmt.Sprint(o.Zones)})
	}
	table(&b, []string{"Standard offset", "Zones"}, rows)

	fmt.Fprintf(&b, "## Daylight saving time in %d by continent\n\n", s.AsOfYear)
	rows = nil
	for _, c := range s.DSTByContinent {
		rows = append(rows, []string{c.Continent, fmt.Sprint(c.Zones), fmt.Sprint(c.ObservingDST),
			fmt.Sprintf("%.0f%%", 100*float64(c.ObservingDST)/float64(c.Zones))})
	}
	table(&b, []string{"Continent", "Zones", "Observing DST", "Share"}, rows)

	b.WriteString("## Zones\n\n")
	rows = nil
	for _, z := range s.Zones {
		dst := "no"
		if z.ObservesDST {
			dst = "yes"
		}
		rows = append(rows, []string{z.Name, strings.Join(z.Countries, ", "),
			z.StartOffset + " " + z.StartAbbrev, z.MidOffset + " " + z.MidAbbrev, dst})
	}
	table(&b, []string{"Zone", "Countries", "Offset at start", "Offset at middle", "DST"}, rows)

	b.WriteString("## Data quality\n\n")
	v := s.Validation
	if len(v.Issues) == 0 {
		b.WriteString("No malformed lines; every zone in zone1970.tab is defined in tzdata.zi and " +
			"every country code is listed in iso3166.tab.\n")
		return b.String()
	}
	rows = nil
	for _, is := range v.Issues {
		rows = append(rows, []string{is.File, fmt.Sprint(is.Line), is.Reason})
	}
	table(&b, []string{"File", "Line", "Problem (line skipped)"}, rows)
	return b.String()
}

// table writes a Markdown table, escaping the characters that would break it.
func table(b *strings.Builder, header []string, rows [][]string) {
	if len(rows) == 0 {
		b.WriteString("(none)\n\n")
		return
	}
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			c = strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(c)
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
	row(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	row(sep)
	for _, r := range rows {
		row(r)
	}
	b.WriteString("\n")
}
