package deviceinfo

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// OpenWrt's UCI configuration, read without the uci tool: a file per
// package in /etc/config, each a list of sections
//
//	config system
//		option hostname 'OpenWrt'
//	config board 'main'
//		option serial "A1B2C3"
//		list tags 'a'
//
// A section is addressed by its name or, named or not, as @type[n]
// (@type[-1] is the last of its type), as `uci get` does.

// uciSection is one "config" block.
type uciSection struct {
	Type, Name string
	Options    map[string][]string // a list has several values
}

// maxUCIFile bounds what is read of a UCI file.
const maxUCIFile = 1 << 20

// errUCISyntax marks a UCI file that does not parse.
var errUCISyntax = errors.New("uci: syntax error")

// parseUCI parses the text of one UCI package.
func parseUCI(text string) ([]uciSection, error) {
	var out []uciSection
	for n, line := range strings.Split(text, "\n") {
		words, err := uciWords(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", errUCISyntax, n+1, err)
		}
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "config":
			if len(words) < 2 || len(words) > 3 || words[1] == "" {
				return nil, fmt.Errorf("%w: line %d: config TYPE ['NAME']", errUCISyntax, n+1)
			}
			s := uciSection{Type: words[1], Options: map[string][]string{}}
			if len(words) == 3 {
				s.Name = words[2]
			}
			out = append(out, s)
		case "option", "list":
			if len(out) == 0 || len(words) != 3 || words[1] == "" {
				return nil, fmt.Errorf("%w: line %d: %s NAME 'VALUE' inside a config section", errUCISyntax, n+1, words[0])
			}
			o := out[len(out)-1].Options
			if words[0] == "option" {
				o[words[1]] = []string{words[2]}
			} else {
				o[words[1]] = append(o[words[1]], words[2])
			}
		case "package":
		default:
			return nil, fmt.Errorf("%w: line %d: unknown keyword %q", errUCISyntax, n+1, words[0])
		}
	}
	return out, nil
}

// uciWords splits a line into words as the shell would for the quoting
// UCI files use: 'single', "double" (with backslash escapes) and bare
// words, concatenated when not separated by white space; # starts a
// comment outside quotes.
func uciWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	in := false // inside a word
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		case c == '#' && !in:
			return words, nil
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				w.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errors.New(`unterminated "`)
			}
			in = true
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			in = true
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}

// uciPath is "package.section.option" taken apart.
type uciPath struct {
	pkg, name, typ, option string
	index                  int // of typ, when name is ""
}

// parseUCIPath takes apart "package.section.option", the section being a
// name or @type[n].
func parseUCIPath(p string) (uciPath, error) {
	parts := strings.Split(p, ".")
	bad := fmt.Errorf("uci: %q is not package.section.option", p)
	if len(parts) != 3 || !uciName(parts[0]) || parts[2] == "" || !uciName(parts[2]) {
		return uciPath{}, bad
	}
	u := uciPath{pkg: parts[0], option: parts[2]}
	sec := parts[1]
	if !strings.HasPrefix(sec, "@") {
		if !uciName(sec) {
			return uciPath{}, bad
		}
		u.name = sec
		return u, nil
	}
	open := strings.IndexByte(sec, '[')
	if open < 2 || !strings.HasSuffix(sec, "]") || !uciName(sec[1:open]) {
		return uciPath{}, bad
	}
	n, err := strconv.Atoi(sec[open+1 : len(sec)-1])
	if err != nil {
		return uciPath{}, bad
	}
	u.typ, u.index = sec[1:open], n
	return u, nil
}

// uciName reports whether s is a UCI identifier: letters, digits, _ and -.
func uciName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// lookup finds the option p names in sections; a list's values are
// joined with spaces, as `uci get` prints them.
func (p uciPath) lookup(sections []uciSection) (string, bool) {
	var sec *uciSection
	if p.name != "" {
		for i := range sections {
			if sections[i].Name == p.name {
				sec = &sections[i]
			}
		}
	} else {
		var of []int
		for i := range sections {
			if sections[i].Type == p.typ {
				of = append(of, i)
			}
		}
		i := p.index
		if i < 0 {
			i += len(of)
		}
		if i >= 0 && i < len(of) {
			sec = &sections[of[i]]
		}
	}
	if sec == nil {
		return "", false
	}
	v, ok := sec.Options[p.option]
	return strings.Join(v, " "), ok
}

// ReadUCI returns the UCI option path ("system.@system[0].hostname") from
// the package's file in dir (/etc/config on OpenWrt).
func ReadUCI(dir, path string) (string, error) {
	p, err := parseUCIPath(path)
	if err != nil {
		return "", err
	}
	f, err := os.Open(filepath.Join(dir, p.pkg))
	if err != nil {
		return "", fmt.Errorf("uci: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUCIFile))
	if err != nil {
		return "", fmt.Errorf("uci: %w", err)
	}
	sections, err := parseUCI(string(b))
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.Name(), err)
	}
	v, ok := p.lookup(sections)
	if !ok {
		return "", fmt.Errorf("uci: %s: no such option", path)
	}
	return v, nil
}
