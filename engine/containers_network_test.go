package engine

import (
	"strings"
	"testing"
)

func TestCheckNetworkOptions(t *testing.T) {
	tests := []struct {
		network  string
		publish  []string
		wantMode string
		wantErr  string
		ports    int
	}{
		{network: "", wantMode: "bridge"},
		{network: "default", wantMode: "bridge"},
		{network: "bridge", publish: []string{"8080:80", "127.0.0.1:53:53/udp"}, wantMode: "bridge", ports: 2},
		{network: "none", wantMode: "none"},
		{network: "host", wantMode: "host"},
		{network: "container:web", wantMode: "container:web"},
		{network: "container:", wantErr: "invalid --network"},
		{network: "overlay", wantErr: "invalid --network"},
		{network: "none", publish: []string{"8080:80"}, wantErr: "cannot be used with --network none"},
		{network: "host", publish: []string{"8080:80"}, wantErr: "cannot be used with --network host"},
		{network: "bridge", publish: []string{"80"}, wantErr: "invalid publish spec"},
	}
	for _, tt := range tests {
		o := CreateOptions{Network: tt.network, Publish: tt.publish}
		ports, err := checkNetworkOptions(&o)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("--network %q -p %v: error %v, want %q", tt.network, tt.publish, err, tt.wantErr)
			}
			continue
		}
		if err != nil || o.Network != tt.wantMode || len(ports) != tt.ports {
			t.Errorf("--network %q -p %v = mode %q, %d ports, %v; want %q, %d ports", tt.network, tt.publish, o.Network, len(ports), err, tt.wantMode, tt.ports)
		}
	}
}
