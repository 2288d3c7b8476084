package conformance

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Counts returns how many results passed, failed and were skipped.
func Counts(res []Result) (pass, fail, skip int) {
	for _, r := range res {
		switch r.Status {
		case Pass:
			pass++
		case Fail:
			fail++
		default:
			skip++
		}
	}
	return
}

// Summary is the last line of every report: "N passed, M failed, K
// skipped".
func Summary(res []Result) string {
	p, f, s := Counts(res)
	return fmt.Sprintf("%d passed, %d failed, %d skipped", p, f, s)
}

// WriteTable writes a readable table, one case a line, then the summary.
func WriteTable(w io.Writer, res []Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tTIME\tTITLE\tREASON")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Duration.Round(time.Millisecond), r.Title, r.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, Summary(res))
	return err
}

// WriteList writes every case with its tag, and whether the runner runs
// it.
func WriteList(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTAG\tTITLE\tRUNNER")
	for _, c := range Cases() {
		how := "runs"
		if ok, why := c.Runnable(); !ok {
			how = "skips: " + why
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Tag, c.Title, how)
	}
	return tw.Flush()
}

// WriteJSON writes the results and the summary as JSON.
func WriteJSON(w io.Writer, res []Result) error {
	p, f, s := Counts(res)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Results []Result `json:"results"`
		Passed  int      `json:"passed"`
		Failed  int      `json:"failed"`
		Skipped int      `json:"skipped"`
	}{res, p, f, s})
}

type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string     `xml:"name,attr"`
	Classname string     `xml:"classname,attr"`
	Time      float64    `xml:"time,attr"`
	Failure   *junitText `xml:"failure,omitempty"`
	Skipped   *junitText `xml:"skipped,omitempty"`
}

type junitText struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the results as a JUnit XML test suite.
func WriteJUnit(w io.Writer, suite string, res []Result) error {
	s := junitSuite{Name: suite, Tests: len(res)}
	for _, r := range res {
		c := junitCase{Name: r.ID + " " + r.Title, Classname: "tp469", Time: r.Duration.Seconds()}
		switch r.Status {
		case Fail:
			s.Failures++
			c.Failure = &junitText{Message: r.Reason}
		case Skip:
			s.Skipped++
			c.Skipped = &junitText{Message: r.Reason}
		}
		s.Time += c.Time
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
