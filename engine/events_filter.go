package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// EventFilter is docker's events --filter: key to values. An event matches when, for every
// key, it matches one of that key's values:
//
//	container  the container's ID, a prefix of it, or its name
//	event      the action (create, start, die, oom, destroy, exec_create...); exec_create and
//	           exec_start also match "exec_create: CMD", as in docker
//	image      the image reference the container was made from, with or without its tag
//	type       container (every event glassbox records is a container's)
type EventFilter map[string][]string

// eventTypes are docker's event types; glassbox records only the first.
var eventTypes = []string{"container", "image", "volume", "network", "daemon", "plugin", "node", "service", "secret", "config"}

// containerActions are docker's container events; glassbox records create, start, die, oom,
// destroy and the exec ones. The others are accepted, as docker's filters take them, and
// match nothing.
var containerActions = []string{"attach", "commit", "copy", "create", "destroy", "detach", "die",
	"exec_create", "exec_detach", "exec_die", "exec_start", "export", "health_status", "kill",
	"oom", "pause", "rename", "resize", "restart", "start", "stop", "top", "unpause", "update"}

// Validate refuses a key docker's events do not filter on or glassbox cannot (label:
// containers carry none), an empty value, an event or type docker does not know.
func (f EventFilter) Validate() error {
	for _, k := range slices.Sorted(maps.Keys(f)) {
		for _, v := range f[k] {
			if v == "" {
				return fmt.Errorf("invalid filter '%s=': empty value", k)
			}
			switch k {
			case "container", "image":
			case "event":
				action, _, _ := strings.Cut(v, ":")
				if !slices.Contains(containerActions, action) {
					return fmt.Errorf("invalid filter 'event=%s': not an event (glassbox records create, start, die, oom, destroy, exec_create, exec_start, exec_die)", v)
				}
			case "type":
				if !slices.Contains(eventTypes, v) {
					return fmt.Errorf("invalid filter 'type=%s': want one of %s", v, strings.Join(eventTypes, ", "))
				}
			default:
				return fmt.Errorf("invalid filter '%s' (glassbox filters events on container, event, image and type)", k)
			}
		}
	}
	return nil
}

// Match says whether ev passes every key of the filter (an empty filter passes everything).
func (f EventFilter) Match(ev Event) bool {
	for k, vs := range f {
		ok := false
		for _, v := range vs {
			ok = ok || matchEvent(k, v, vs, ev)
		}
		if !ok {
			return false
		}
	}
	return true
}

func matchEvent(key, v string, all []string, ev Event) bool {
	switch key {
	case "container":
		return strings.HasPrefix(ev.ContainerID, v) || strings.TrimPrefix(v, "/") == strings.TrimPrefix(ev.Name, "/")
	case "event":
		// docker (moby#25798): with a bare exec_create or exec_start among the values, every
		// value matches as a prefix, so "exec_start" matches "exec_start: sh -c ...".
		if slices.ContainsFunc(all, func(s string) bool { return s == "exec_create" || s == "exec_start" }) {
			return strings.HasPrefix(ev.Action, v)
		}
		return ev.Action == v
	case "image":
		return ev.Image != "" && (v == ev.Image || v == imageName(ev.Image) || withTag(v) == withTag(ev.Image))
	case "type":
		return v == "container"
	}
	return false
}

// imageName is ref without its tag or digest ("host:5000/busybox:1" is "host:5000/busybox").
func imageName(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i]
	}
	return ref
}

// withTag is ref with docker's default tag when it has neither tag nor digest.
func withTag(ref string) string {
	if strings.Contains(ref, "@") || imageName(ref) != ref {
		return ref
	}
	return ref + ":latest"
}
