package pipeline

import (
	"fmt"
	"slices"
	"strings"
)

// cycles reports one cycle for each group of stages that wait for each
// other, in run order, starting at the group's first stage in the document.
func (v *validator) cycles(stages []*Stage) {
	for _, cycle := range findCycles(stages) {
		parts := make([]string, 0, len(cycle)+1)
		for _, i := range cycle {
			parts = append(parts, stageLabel(stages[i])+" ("+stages[i].RefID+")")
		}
		parts = append(parts, parts[0])
		v.add(fmt.Sprintf("stages[%d].requisiteStageRefIds", cycle[0]),
			"cycle: %s; a stage cannot wait for itself, remove one of these requisites", strings.Join(parts, " → "))
	}
}

// findCycles returns, for each strongly connected group of stages that
// contains a cycle, the shortest cycle through the group's first stage, as
// stage indexes in run order (each stage requires the one before it).
func findCycles(stages []*Stage) [][]int {
	index := map[string]int{}
	for i, s := range stages {
		if _, dup := index[s.RefID]; s.RefID != "" && !dup {
			index[s.RefID] = i
		}
	}
	// down[j] lists the stages that require stage j, in document order.
	down := make([][]int, len(stages))
	selfLoop := make([]bool, len(stages))
	for i, s := range stages {
		for _, r := range s.RequisiteStageRefIDs {
			j, ok := index[r]
			if !ok {
				continue
			}
			if j == i {
				selfLoop[i] = true
			}
			if !slices.Contains(down[j], i) {
				down[j] = append(down[j], i)
			}
		}
	}
	for j := range down {
		slices.Sort(down[j])
	}

	var cycles [][]int
	for _, group := range stronglyConnected(down) {
		first := slices.Min(group)
		if len(group) == 1 && !selfLoop[first] {
			continue
		}
		in := map[int]bool{}
		for _, i := range group {
			in[i] = true
		}
		cycles = append(cycles, shortestCycle(first, down, in))
	}
	slices.SortFunc(cycles, func(a, b []int) int { return a[0] - b[0] })
	return cycles
}

// shortestCycle finds, breadth first within a group, the shortest path from
// start back to itself.
func shortestCycle(start int, down [][]int, in map[int]bool) []int {
	parent := map[int]int{start: -1}
	queue := []int{start}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, y := range down[x] {
			if y == start {
				var path []int
				for n := x; n != -1; n = parent[n] {
					path = append(path, n)
				}
				slices.Reverse(path)
				return path
			}
			if _, seen := parent[y]; !seen && in[y] {
				parent[y] = x
				queue = append(queue, y)
			}
		}
	}
	return []int{start} // not reached: the group holds a cycle through start
}

// stronglyConnected returns the strongly connected components of a graph
// given as adjacency lists (Tarjan's algorithm).
func stronglyConnected(adj [][]int) [][]int {
	n := len(adj)
	order := make([]int, n) // discovery order, 1-based; 0 = unvisited
	low := make([]int, n)
	onStack := make([]bool, n)
	var stack []int
	var groups [][]int
	counter := 0

	var visit func(v int)
	visit = func(v int) {
		counter++
		order[v], low[v] = counter, counter
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range adj[v] {
			switch {
			case order[w] == 0:
				visit(w)
				low[v] = min(low[v], low[w])
			case onStack[w]:
				low[v] = min(low[v], order[w])
			}
		}
		if low[v] != order[v] {
			return
		}
		var group []int
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			group = append(group, w)
			if w == v {
				break
			}
		}
		groups = append(groups, group)
	}
	for v := range n {
		if order[v] == 0 {
			visit(v)
		}
	}
	return groups
}
