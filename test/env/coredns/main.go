// CoreDNS for the real node (docs/sandbox.md, "Real node"), with only the plugins its
// Corefile uses: bind, kubernetes (Service, headless and Pod names), errors, log, health, ready
// and cache. No forward plugin is linked in: no lookup can leave the machine.
package main

import (
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"

	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }
