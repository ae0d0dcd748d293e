package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/procfs"
)

// rssSample is the resident memory of a process tree, in bytes.
type rssSample struct {
	total uint64
	parts []rssPart // the root first, then its descendants
}

type rssPart struct {
	name  string
	bytes uint64
}

// format renders the total with each process's share.
func (s rssSample) format(float64) string {
	shares := make([]string, len(s.parts))
	for i, p := range s.parts {
		shares[i] = fmt.Sprintf("%s %.1f", p.name, float64(p.bytes)/(1<<20))
	}
	return mebibytes(float64(s.total)) + " (" + strings.Join(shares, " + ") + ")"
}

// treeRSS sums VmRSS over root and every process descended from it.
func treeRSS(root int) (rssSample, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return rssSample{}, fmt.Errorf("read /proc: %v", err)
	}
	all, err := fs.AllProcs()
	if err != nil {
		return rssSample{}, fmt.Errorf("list processes: %v", err)
	}
	children := map[int][]procfs.Proc{}
	for _, p := range all {
		// A process that ends meanwhile is no part of the tree.
		if st, err := p.Stat(); err == nil {
			children[st.PPID] = append(children[st.PPID], p)
		}
	}
	self, err := fs.Proc(root)
	if err != nil {
		return rssSample{}, fmt.Errorf("process %d: %v", root, err)
	}
	var s rssSample
	queue := []procfs.Proc{self}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		st, err := p.NewStatus()
		if err != nil {
			if p.PID == root {
				return rssSample{}, fmt.Errorf("process %d: %v", root, err)
			}
			continue
		}
		s.total += st.VmRSS
		s.parts = append(s.parts, rssPart{name: processName(p, st.Name), bytes: st.VmRSS})
		kids := children[p.PID]
		slices.SortFunc(kids, func(a, b procfs.Proc) int { return a.PID - b.PID })
		queue = append(queue, kids...)
	}
	return s, nil
}

// processName is the base name of the executable, else the kernel's
// (truncated) name.
func processName(p procfs.Proc, comm string) string {
	if args, err := p.CmdLine(); err == nil && len(args) > 0 {
		return filepath.Base(args[0])
	}
	return comm
}
