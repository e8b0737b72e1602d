package shim

import (
	"encoding/json"
	"os"
	"sync"
	"time"
)

// LogEntry is one line of the json-lines log, docker's json-file shape.
type LogEntry struct {
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
	Line   string    `json:"log"`
}

// logWriter appends json lines to path, rotating to path.1 past maxBytes (one old file is
// kept, as docker's json-file with max-file=2).
type logWriter struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxBytes int64
	partial  map[string][]byte // an unfinished line per stream
}

func openLog(path string, maxBytes int64) (*logWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	st, _ := f.Stat()
	return &logWriter{path: path, f: f, size: st.Size(), maxBytes: maxBytes, partial: map[string][]byte{}}, nil
}

// write splits data into lines (a line keeps its "\n", as docker's log field does) and appends
// one entry per complete line; the rest waits for more data or flush.
func (l *logWriter) write(stream string, data []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := append(l.partial[stream], data...)
	for {
		i := indexByte(buf, '\n')
		if i < 0 {
			break
		}
		l.entry(stream, buf[:i+1])
		buf = buf[i+1:]
	}
	if len(buf) > 16<<10 { // a line without end: cut it, as docker does at 16 KiB
		l.entry(stream, buf)
		buf = nil
	}
	l.partial[stream] = append([]byte(nil), buf...)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (l *logWriter) entry(stream string, line []byte) {
	data, _ := json.Marshal(LogEntry{Stream: stream, Time: time.Now().UTC(), Line: string(line)})
	data = append(data, '\n')
	if l.maxBytes > 0 && l.size+int64(len(data)) > l.maxBytes {
		l.f.Close()
		os.Rename(l.path, l.path+".1")
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return
		}
		l.f, l.size = f, 0
	}
	n, _ := l.f.Write(data)
	l.size += int64(n)
}

func (l *logWriter) close() {
	l.mu.Lock()
	for stream, rest := range l.partial {
		if len(rest) > 0 {
			l.entry(stream, rest)
		}
	}
	l.partial = map[string][]byte{}
	l.f.Close()
	l.mu.Unlock()
}
