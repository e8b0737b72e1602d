package inspect

// parseStat folds one file's contents into s. Formats: Documentation/admin-guide/cgroup-v1/
// {cpuacct,memory,blkio-controller}.rst, cgroup-v2.rst and accounting/psi.rst.
func parseStat(k statKind, b []byte, s *Stats) {
	switch k {
	case kCPUAcctUsage:
		s.CPU.UsageNanos, s.Has.CPU = parseUintOK(b)
	case kCPUAcctStat:
		forKV(b, func(key string, v uint64) {
			switch key {
			case "user":
				s.CPU.UserNanos = v * nanosPerUserHZTick
			case "system":
				s.CPU.SystemNanos = v * nanosPerUserHZTick
			}
		})
	case kCPUStatV1:
		s.Has.Throttling = true
		forKV(b, func(key string, v uint64) {
			switch key {
			case "nr_periods":
				s.CPU.Periods = v
			case "nr_throttled":
				s.CPU.ThrottledPeriods = v
			case "throttled_time":
				s.CPU.ThrottledNanos = v
			}
		})
	case kCPUQuotaV1:
		q, _ := parseInt(b)
		s.CPU.QuotaMicros = q
	case kCPUPeriodV1:
		s.CPU.PeriodMicros, _ = parseUint(b)
	case kCPUStatV2:
		forKV(b, func(key string, v uint64) {
			switch key {
			case "usage_usec":
				if !s.Has.CPU {
					s.CPU.UsageNanos, s.Has.CPU = v*1000, true
				}
			case "user_usec":
				if s.CPU.UserNanos == 0 {
					s.CPU.UserNanos = v * 1000
				}
			case "system_usec":
				if s.CPU.SystemNanos == 0 {
					s.CPU.SystemNanos = v * 1000
				}
			case "nr_periods":
				s.CPU.Periods, s.Has.Throttling = v, true
			case "nr_throttled":
				s.CPU.ThrottledPeriods = v
			case "throttled_usec":
				s.CPU.ThrottledNanos = v * 1000
			}
		})
	case kCPUMaxV2: // "$MAX $PERIOD"
		q, rest := cutField(b)
		if string(q) == "max" {
			s.CPU.QuotaMicros = -1
		} else {
			s.CPU.QuotaMicros, _ = parseInt(q)
		}
		s.CPU.PeriodMicros, _ = parseUint(rest)
	case kMemUsageV1, kMemCurrentV2:
		s.Memory.UsageBytes, s.Has.Memory = parseUintOK(b)
	case kMemLimitV1, kMemMaxV2:
		v, _ := parseUint(b)
		s.Memory.LimitBytes = normLimit(v)
	case kMemMaxUsageV1, kMemPeakV2:
		s.Memory.PeakBytes, _ = parseUint(b)
	case kMemKmemV1:
		s.Memory.KernelBytes, _ = parseUint(b)
	case kMemFailcntV1:
		s.Memory.LimitHits, _ = parseUint(b)
	case kMemSwapV2:
		s.Memory.SwapBytes, _ = parseUint(b)
	case kMemStatV1:
		forKV(b, func(key string, v uint64) {
			switch key { // hierarchical totals: the cgroup and its children
			case "total_rss":
				s.Memory.AnonBytes = v
			case "total_cache":
				s.Memory.FileBytes = v
			case "total_shmem":
				s.Memory.ShmemBytes = v
			case "total_swap":
				s.Memory.SwapBytes = v
			case "total_inactive_file":
				s.Memory.InactiveFile = v
			}
		})
	case kMemStatV2:
		var stack, slab, pagetables uint64
		haveKernel := false
		forKV(b, func(key string, v uint64) {
			switch key {
			case "anon":
				s.Memory.AnonBytes = v
			case "file":
				s.Memory.FileBytes = v
			case "kernel": // since Linux 5.18
				s.Memory.KernelBytes, haveKernel = v, true
			case "kernel_stack":
				stack = v
			case "slab":
				slab = v
			case "pagetables":
				pagetables = v
			case "shmem":
				s.Memory.ShmemBytes = v
			case "inactive_file":
				s.Memory.InactiveFile = v
			}
		})
		if !haveKernel {
			s.Memory.KernelBytes = stack + slab + pagetables
		}
	case kMemOOMControlV1:
		s.Has.MemoryEvents = true
		forKV(b, func(key string, v uint64) {
			switch key {
			case "under_oom":
				s.Memory.UnderOOM = v != 0
			case "oom_kill": // since Linux 4.13
				s.Memory.OOMKills = v
			}
		})
	case kMemEventsV2:
		s.Has.MemoryEvents = true
		forKV(b, func(key string, v uint64) {
			switch key {
			case "max":
				s.Memory.LimitHits = v
			case "oom":
				s.Memory.OOM = v
			case "oom_kill":
				s.Memory.OOMKills = v
			}
		})
	case kPidsCurrent:
		s.Pids.Current, s.Has.Pids = parseUintOK(b)
	case kPidsMax:
		s.Pids.Max, _ = parseUint(b)
	case kBlkioBytesV1:
		s.Has.IO = true
		parseBlkio(b, &s.IO, true)
	case kBlkioOpsV1:
		s.Has.IO = true
		parseBlkio(b, &s.IO, false)
	case kIOStatV2:
		s.Has.IO = true
		parseIOStat(b, &s.IO)
	case kCPUPressure:
		s.Has.Pressure = parsePSI(b, &s.Pressure.CPU) || s.Has.Pressure
	case kMemPressure:
		s.Has.Pressure = parsePSI(b, &s.Pressure.Memory) || s.Has.Pressure
	case kIOPressure:
		s.Has.Pressure = parsePSI(b, &s.Pressure.IO) || s.Has.Pressure
	}
}

func parseUintOK(b []byte) (uint64, bool) { return parseUint(b) }

// forKV calls f for each "key value" line. f does not escape, so its closure stays on the
// stack.
func forKV(b []byte, f func(key string, v uint64)) {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		key, rest := cutField(line)
		if v, ok := parseUint(rest); ok {
			f(unsafeString(key), v)
		}
	}
}

// parseBlkio reads v1 "MAJ:MIN Op N" lines (Op: Read, Write, Sync, Async, Discard, Total) and
// a final "Total N".
func parseBlkio(b []byte, io *IOStats, bytes bool) {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		dev, rest := cutField(line)
		op, num := cutField(rest)
		major, minor, ok := parseDevice(dev)
		if !ok {
			continue
		}
		v, ok := parseUint(num)
		if !ok {
			continue
		}
		d := io.device(major, minor)
		switch {
		case string(op) == "Read" && bytes:
			io.ReadBytes += v
			if d != nil {
				d.ReadBytes = v
			}
		case string(op) == "Write" && bytes:
			io.WriteBytes += v
			if d != nil {
				d.WriteBytes = v
			}
		case string(op) == "Read":
			io.ReadOps += v
			if d != nil {
				d.ReadOps = v
			}
		case string(op) == "Write":
			io.WriteOps += v
			if d != nil {
				d.WriteOps = v
			}
		}
	}
}

// parseIOStat reads v2 "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" lines.
func parseIOStat(b []byte, io *IOStats) {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		dev, rest := cutField(line)
		major, minor, ok := parseDevice(dev)
		if !ok {
			continue
		}
		d := io.device(major, minor)
		var scratch IODevice
		if d == nil {
			d = &scratch
		}
		for len(rest) > 0 {
			var kv []byte
			kv, rest = cutField(rest)
			k, val, ok := cutByte(kv, '=')
			if !ok {
				continue
			}
			v, _ := parseUint(val)
			switch string(k) {
			case "rbytes":
				d.ReadBytes = v
				io.ReadBytes += v
			case "wbytes":
				d.WriteBytes = v
				io.WriteBytes += v
			case "rios":
				d.ReadOps = v
				io.ReadOps += v
			case "wios":
				d.WriteOps = v
				io.WriteOps += v
			}
		}
	}
}

// parsePSI reads "some avg10=A avg60=B avg300=C total=T" and the same for "full".
func parsePSI(b []byte, p *PSI) bool {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		kind, rest := cutField(line)
		var l *PSILine
		switch string(kind) {
		case "some":
			l = &p.Some
		case "full":
			l = &p.Full
		default:
			continue
		}
		p.Present = true
		for len(rest) > 0 {
			var kv []byte
			kv, rest = cutField(rest)
			k, val, ok := cutByte(kv, '=')
			if !ok {
				continue
			}
			switch string(k) {
			case "avg10":
				l.Avg10 = parseFixed(val)
			case "avg60":
				l.Avg60 = parseFixed(val)
			case "avg300":
				l.Avg300 = parseFixed(val)
			case "total":
				l.TotalMicros, _ = parseUint(val)
			}
		}
	}
	return p.Present
}
