// goclient: the compatibility matrix's Go client, golang.org/x/crypto/ssh
// as Debian 12 ships it.  goclient CHECK, the rest from the environment the
// runner sets (CX_*).  Exit 0 works, 1 fails (reason on stderr).
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

func fail(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, f+"\n", a...)
	os.Exit(1)
}

func env(k string) string { return os.Getenv(k) }

func main() {
	check := os.Args[1]
	pem, err := os.ReadFile(env("CX_KEY"))
	if err != nil {
		fail("key: %v", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		fail("key: %v", err)
	}
	hk, err := knownhosts.New(env("CX_KNOWN_HOSTS"))
	if err != nil {
		fail("known_hosts: %v", err)
	}
	cfg := &ssh.ClientConfig{User: env("CX_USER"), HostKeyCallback: hk,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}}
	if check == "rekey" {
		cfg.RekeyThreshold = 256 * 1024
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort(env("CX_HOST"), env("CX_PORT")), cfg)
	if err != nil {
		fail("dial: %v", err)
	}
	defer c.Close()
	run := func(cmd string, pty bool, stdin []byte) (int, string) {
		s, err := c.NewSession()
		if err != nil {
			fail("session: %v", err)
		}
		if pty {
			if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
				fail("pty: %v", err)
			}
		}
		if stdin != nil {
			s.Stdin = bytes.NewReader(stdin)
		}
		var out bytes.Buffer
		s.Stdout = &out
		err = s.Run(cmd)
		st := 0
		if ee, ok := err.(*ssh.ExitError); ok {
			st = ee.ExitStatus()
		} else if err != nil {
			fail("run %q: %v", cmd, err)
		}
		return st, out.String()
	}
	probe := "/usr/bin/python3 " + env("CX_ECHO_PY") + " probe "
	switch check {
	case "exec":
		st, out := run("echo compat-out; exit 3", false, nil)
		if st != 3 || strings.TrimSpace(out) != "compat-out" {
			fail("exec: %d %q", st, out)
		}
	case "pty":
		st, out := run("tty", true, nil)
		if st != 0 || !strings.HasPrefix(strings.TrimSpace(out), "/dev/pts/") {
			fail("pty: %d %q", st, out)
		}
	case "fwd_l":
		conn, err := c.Dial("tcp", "127.0.0.1:"+env("CX_ECHO"))
		if err != nil {
			fail("direct-tcpip: %v", err)
		}
		conn.Write([]byte("ping-L\n"))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if line != "ping-L\n" {
			fail("fwd_l: %q %v", line, err)
		}
	case "fwd_r":
		l, err := c.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fail("tcpip-forward: %v", err)
		}
		go func() {
			for {
				in, err := l.Accept()
				if err != nil {
					return
				}
				out, err := net.Dial("tcp", "127.0.0.1:"+env("CX_ECHO"))
				if err != nil {
					in.Close()
					continue
				}
				go io.Copy(out, in)
				go io.Copy(in, out)
			}
		}()
		port := l.Addr().(*net.TCPAddr).Port
		st, out := run(fmt.Sprintf("%s%d", probe, port), false, nil)
		if st != 0 {
			fail("fwd_r: port %d: %d %q", port, st, out)
		}
	case "agent":
		sock, err := net.Dial("unix", env("SSH_AUTH_SOCK"))
		if err != nil {
			fail("agent socket: %v", err)
		}
		if err := agent.ForwardToAgent(c, agent.NewClient(sock)); err != nil {
			fail("forward: %v", err)
		}
		s, _ := c.NewSession()
		if err := agent.RequestAgentForwarding(s); err != nil {
			fail("auth-agent-req: %v", err)
		}
		out, err := s.Output("ssh-add -l")
		if err != nil || !strings.Contains(string(out), env("CX_AGENT_FP")) {
			fail("agent: %v %q", err, out)
		}
	case "rekey":
		data, err := os.ReadFile(env("CX_DATA"))
		if err != nil {
			fail("data: %v", err)
		}
		st, out := run("sha256sum", false, data)
		sum := fmt.Sprintf("%x", sha256.Sum256(data))
		if st != 0 || !strings.HasPrefix(out, sum) {
			fail("rekey: %d %q", st, out)
		}
	default:
		os.Exit(3)
	}
}
