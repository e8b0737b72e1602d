package inspect

// briefKinds are the files a brief reading reads: CPU time and memory usage, the two figures
// a list of containers draws for every row.
var briefKinds = [nKinds]bool{kCPUAcctUsage: true, kCPUStatV2: true, kMemUsageV1: true, kMemCurrentV2: true}

// SetBrief makes id's readings brief (CPU time and memory usage: one or two files instead of
// about twenty, as a workbench needs for the rows of its list) or full again. A brief
// reading's Has says which figures it holds. Unknown ids are ignored.
func (p *Poller) SetBrief(id string, brief bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.readers {
		if r.id == id {
			r.brief = brief
		}
	}
}
