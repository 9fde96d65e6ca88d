package sinktest

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/sink"
)

func TestStart(t *testing.T) {
	srv, addr := Start(t, sink.Config{Hostname: "test.example"})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220 test.example") {
		t.Errorf("greeting %q, %v", line, err)
	}
	if srv == nil {
		t.Error("no server")
	}
}
