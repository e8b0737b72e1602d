package spec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// User is a resolved container user: what process.user and HOME become.
type User struct {
	UID, GID       uint32
	AdditionalGids []uint32
	Home           string
}

// openInRoot opens name inside the directory tree at root, resolving every symlink as if root
// were "/" (openat2(2) RESOLVE_IN_ROOT), so an image's /etc/passwd -> /host/etc/shadow link can
// never lead outside the rootfs.
func openInRoot(root, name string) (*os.File, error) {
	dirfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs %s: %w", root, err)
	}
	defer unix.Close(dirfd)
	fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: root + "/" + name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s in rootfs is not a regular file", name)
	}
	return f, nil
}

// colonFile reads a passwd(5)/group(5) style file from the rootfs: at most 4 MiB, lines of
// colon-separated fields. A missing file is no entries.
func colonFile(root, name string) ([][]string, error) {
	f, err := openInRoot(root, name)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		rows = append(rows, strings.Split(line, ":"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s in rootfs: %w", name, err)
	}
	return rows, nil
}

// LookupUser resolves docker's -u forms (name, uid, name:group, uid:gid, ...) against the
// rootfs's /etc/passwd and /etc/group, as docker does: a name must exist; a numeric uid need
// not (its group is then 0, its home "/"). Supplementary groups are those listing the user.
func LookupUser(rootfs, spec string) (User, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	passwd, err := colonFile(rootfs, "etc/passwd")
	if err != nil {
		return User{}, err
	}
	u := User{Home: "/"}
	var userName string
	found := false
	uidNum, numErr := strconv.ParseUint(userPart, 10, 32)
	for _, row := range passwd {
		if len(row) < 7 {
			continue
		}
		uid, err1 := strconv.ParseUint(row[2], 10, 32)
		gid, err2 := strconv.ParseUint(row[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		if (numErr == nil && uid == uidNum) || (numErr != nil && row[0] == userPart) {
			u.UID, u.GID, u.Home, userName, found = uint32(uid), uint32(gid), row[5], row[0], true
			break
		}
	}
	if !found {
		if numErr != nil {
			return User{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
		u.UID = uint32(uidNum)
	}
	groups, err := colonFile(rootfs, "etc/group")
	if err != nil {
		return User{}, err
	}
	if hasGroup {
		gidNum, gErr := strconv.ParseUint(groupPart, 10, 32)
		if gErr == nil {
			u.GID = uint32(gidNum)
		} else {
			ok := false
			for _, row := range groups {
				if len(row) >= 3 && row[0] == groupPart {
					if g, err := strconv.ParseUint(row[2], 10, 32); err == nil {
						u.GID, ok = uint32(g), true
						break
					}
				}
			}
			if !ok {
				return User{}, fmt.Errorf("unable to find group %s: no matching entries in group file", groupPart)
			}
		}
	}
	if userName != "" {
		for _, row := range groups {
			if len(row) < 4 {
				continue
			}
			g, err := strconv.ParseUint(row[2], 10, 32)
			if err != nil || uint32(g) == u.GID {
				continue
			}
			for _, m := range strings.Split(row[3], ",") {
				if m == userName {
					u.AdditionalGids = append(u.AdditionalGids, uint32(g))
				}
			}
		}
	}
	if u.Home == "" {
		u.Home = "/"
	}
	return u, nil
}
