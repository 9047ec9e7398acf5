package mask

import (
	"maps"
	"slices"
)

// automaton is an Aho–Corasick automaton over bytes: one pass over a text
// finds every occurrence of every pattern. Nodes are stored in flat slices;
// the root's transitions are a dense table, since most bytes of a log line
// leave the automaton at the root, and other nodes keep their few children
// sorted by byte. It is immutable once built.
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
	for _, p := range patterns {
		n := int32(0)
		for i := 0; i < len(p); i++ {
			c := p[i]
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

	a := &automaton{
		first: make([]int32, len(nodes)),
		count: make([]int32, len(nodes)),
		fail:  make([]int32, len(nodes)),
		out:   make([]int32, len(nodes)),
		depth: make([]int32, len(nodes)),
	}
	for i, bn := range nodes {
		a.first[i] = int32(len(a.labels))
		a.count[i] = int32(len(bn.children))
		for _, c := range slices.Sorted(maps.Keys(bn.children)) {
			a.labels = append(a.labels, c)
			a.targets = append(a.targets, bn.children[c])
		}
		a.out[i] = bn.out
		a.depth[i] = bn.depth
	}
	for c, t := range nodes[0].children {
		a.root[c] = t
	}

	// Breadth-first, so a node's failure target is final before its
	// children need it.
	queue := make([]int32, 0, len(nodes))
	for c := range 256 {
		if t := a.root[c]; t != 0 {
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for k := a.first[u]; k < a.first[u]+a.count[u]; k++ {
			c, v := a.labels[k], a.targets[k]
			a.fail[v] = a.step(a.fail[u], c)
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
	for n != 0 {
		if t := a.child(n, c); t != 0 {
			return t
		}
		n = a.fail[n]
	}
	return a.root[c]
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
