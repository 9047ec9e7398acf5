package mask

import (
	"maps"
	"slices"
)

// Limits of the dense transition table. Rows go to the shallowest nodes,
// where a scan of ordinary text spends nearly all its steps; deeper nodes use
// their sorted children and failure links. With 100 secrets of 32 bytes the
// table takes about 0.5 MiB.
const (
	maxDenseDepth = 3
	maxDenseRows  = 4096
)

// automaton is an Aho–Corasick automaton over bytes: one pass over a text
// finds every occurrence of every pattern. Nodes are stored in flat slices.
// The shallowest nodes also have a dense row of transitions indexed by byte
// class (bytes that occur in no pattern share class 0); other nodes keep
// their few children sorted by byte. It is immutable once built.
type automaton struct {
	root [256]int32 // child of the root per byte; 0 means none

	// Children of node n are labels/targets[first[n] : first[n]+count[n]],
	// sorted by label.
	first   []int32
	count   []int32
	labels  []byte
	targets []int32

	fail  []int32 // longest proper suffix of the node's path that is a node
	out   []int32 // length of the longest pattern ending at the node, or 0
	depth []int32 // length of the node's path

	class   [256]uint16 // byte class of each byte
	classes int         // number of classes
	row     []int32     // dense row of each node, or -1
	dense   []int32     // rows of classes transitions
}

// span is a half-open byte range [start, end) of a text.
type span struct{ start, end int }

// newAutomaton builds an automaton finding patterns, which must be non-empty.
func newAutomaton(patterns []string) *automaton {
	// Build the trie with maps, then flatten it.
	type buildNode struct {
		children map[byte]int32
		out      int32
		depth    int32
	}
	nodes := []buildNode{{children: map[byte]int32{}}}
	a := &automaton{}
	var used [256]bool
	for _, p := range patterns {
		n := int32(0)
		for i := 0; i < len(p); i++ {
			c := p[i]
			used[c] = true
			next, ok := nodes[n].children[c]
			if !ok {
				next = int32(len(nodes))
				nodes = append(nodes, buildNode{children: map[byte]int32{}, depth: nodes[n].depth + 1})
				nodes[n].children[c] = next
			}
			n = next
		}
		nodes[n].out = max(nodes[n].out, int32(len(p)))
	}

	// classByte[k] is a byte of class k; class 0 is every unused byte.
	classByte := []byte{0}
	for c := range 256 {
		if used[c] {
			a.class[c] = uint16(len(classByte))
			classByte = append(classByte, byte(c))
		}
	}
	a.classes = len(classByte)

	a.first = make([]int32, len(nodes))
	a.count = make([]int32, len(nodes))
	a.fail = make([]int32, len(nodes))
	a.out = make([]int32, len(nodes))
	a.depth = make([]int32, len(nodes))
	a.row = make([]int32, len(nodes))
	for i, bn := range nodes {
		a.first[i] = int32(len(a.labels))
		a.count[i] = int32(len(bn.children))
		for _, c := range slices.Sorted(maps.Keys(bn.children)) {
			a.labels = append(a.labels, c)
			a.targets = append(a.targets, bn.children[c])
		}
		a.out[i] = bn.out
		a.depth[i] = bn.depth
		a.row[i] = -1
	}
	for c, t := range nodes[0].children {
		a.root[c] = t
	}

	// Breadth-first, so that a node's failure target, being shallower, is
	// complete (with its dense row) before the node needs it.
	rows := 0
	queue := make([]int32, 0, len(nodes))
	queue = append(queue, 0)
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if a.depth[u] <= maxDenseDepth && rows < maxDenseRows {
			r := make([]int32, a.classes)
			for k, c := range classByte {
				t := a.child(u, c)
				if t == 0 && u != 0 && k != 0 {
					t = a.step(a.fail[u], c)
				}
				if k == 0 {
					t = 0 // an unused byte leads back to the root
				}
				r[k] = t
			}
			a.row[u] = int32(rows)
			a.dense = append(a.dense, r...)
			rows++
		}
		for k := a.first[u]; k < a.first[u]+a.count[u]; k++ {
			c, v := a.labels[k], a.targets[k]
			if u != 0 {
				a.fail[v] = a.step(a.fail[u], c)
			}
			a.out[v] = max(a.out[v], a.out[a.fail[v]])
			queue = append(queue, v)
		}
	}
	return a
}

// child returns the child of node n for byte c, or 0.
func (a *automaton) child(n int32, c byte) int32 {
	lo, hi := a.first[n], a.first[n]+a.count[n]
	if hi-lo <= 4 {
		for k := lo; k < hi; k++ {
			if a.labels[k] == c {
				return a.targets[k]
			}
		}
		return 0
	}
	for lo < hi {
		mid := int32(uint32(lo+hi) >> 1)
		switch l := a.labels[mid]; {
		case l == c:
			return a.targets[mid]
		case l < c:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return 0
}

// step returns the state after reading c in state n.
func (a *automaton) step(n int32, c byte) int32 {
	for {
		if r := a.row[n]; r >= 0 {
			return a.dense[int(r)*a.classes+int(a.class[c])]
		}
		if t := a.child(n, c); t != 0 {
			return t
		}
		n = a.fail[n]
	}
}

// find returns the spans of s covered by occurrences of the patterns,
// merged where they overlap or touch, in order, and the final state. It
// returns no spans, without allocating, when nothing occurs.
func (a *automaton) find(s string) ([]span, int32) {
	var spans []span
	n := int32(0)
	for i := 0; i < len(s); i++ {
		if n == 0 {
			// Skip bytes that cannot start a pattern.
			for i < len(s) && a.root[s[i]] == 0 {
				i++
			}
			if i == len(s) {
				break
			}
		}
		n = a.step(n, s[i])
		l := a.out[n]
		if l == 0 {
			continue
		}
		sp := span{start: i + 1 - int(l), end: i + 1}
		// A later match may start before earlier ones: absorb them.
		for len(spans) > 0 && sp.start <= spans[len(spans)-1].end {
			sp.start = min(sp.start, spans[len(spans)-1].start)
			spans = spans[:len(spans)-1]
		}
		spans = append(spans, sp)
	}
	return spans, n
}
