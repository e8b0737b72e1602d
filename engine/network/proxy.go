package network

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// udpIdle is how long a UDP flow through the proxy lives without traffic, as conntrack's
// nf_conntrack_udp_timeout_stream order of magnitude.
const udpIdle = 60 * time.Second

// Serve is the userland proxy: it accepts on every bound host port and forwards to the same
// mapping's container port at containerIP, until ctx ends, then closes the ports. Only
// connections DNAT did not take reach it, in practice those to 127.0.0.1 (see doc.go). It is
// meant to run in the container's shim for the container's life.
func Serve(ctx context.Context, p *Ports, containerIP netip.Addr) error {
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i, m := range p.Mappings {
		target := netip.AddrPortFrom(containerIP, m.ContainerPort).String()
		if l, ok := p.tcp[i]; ok {
			wg.Go(func() { serveTCP(ctx, l, target) })
		} else if c, ok := p.udp[i]; ok {
			wg.Go(func() { serveUDP(ctx, c, target) })
		}
	}
	<-ctx.Done()
	p.Close() // unblocks Accept and ReadFrom
	wg.Wait()
	return nil
}

// ServeProxy binds the mappings' host ports and serves them: Bind then Serve.
func ServeProxy(ctx context.Context, mappings []PortMapping, containerIP netip.Addr) error {
	p, err := Bind(mappings)
	if err != nil {
		return err
	}
	return Serve(ctx, p, containerIP)
}

func serveTCP(ctx context.Context, l *net.TCPListener, target string) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: back off, keep serving
			continue
		}
		wg.Go(func() { proxyTCP(ctx, c, target) })
	}
}

// proxyTCP copies both ways, passing half-closes on so protocols that shut down writing
// (HTTP/1.0 clients, netcat) see the other side's answer.
func proxyTCP(ctx context.Context, client *net.TCPConn, target string) {
	defer client.Close()
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	up, err := d.DialContext(dctx, "tcp4", target)
	cancel()
	if err != nil {
		return
	}
	server := up.(*net.TCPConn)
	defer server.Close()
	stop := context.AfterFunc(ctx, func() { client.Close(); server.Close() })
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(server, client); server.CloseWrite() })
	io.Copy(client, server)
	client.CloseWrite()
	wg.Wait()
}

// serveUDP keeps one upstream socket per client address, so replies find their way back.
func serveUDP(ctx context.Context, c *net.UDPConn, target string) {
	var mu sync.Mutex
	flows := map[string]*net.UDPConn{}
	var wg sync.WaitGroup
	defer func() {
		mu.Lock()
		for _, f := range flows {
			f.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		key := from.String()
		mu.Lock()
		up, ok := flows[key]
		if !ok {
			raddr, _ := net.ResolveUDPAddr("udp4", target)
			up, err = net.DialUDP("udp4", nil, raddr)
			if err != nil {
				mu.Unlock()
				continue
			}
			flows[key] = up
			wg.Go(func() {
				reply := make([]byte, 65535)
				for {
					up.SetReadDeadline(time.Now().Add(udpIdle))
					n, err := up.Read(reply)
					if err != nil {
						break
					}
					c.WriteToUDP(reply[:n], from)
				}
				mu.Lock()
				delete(flows, key)
				mu.Unlock()
				up.Close()
			})
		}
		mu.Unlock()
		up.Write(buf[:n])
	}
}
