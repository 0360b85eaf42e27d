// The pause process of every Pod sandbox on the real node (docs/sandbox.md, "Real node"):
// it holds the Pod's namespaces, reaps orphaned children and exits on SIGTERM or SIGINT.
// Built static by test/env/build-node-go.sh and wrapped as the image that containerd's
// sandbox_image names, so nothing is pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
