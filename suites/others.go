package suites

import "github.com/pdex-conform/pdex-conform/suites/framework"

func registerDiscovery(e *framework.Env) {}
func registerGroup(e *framework.Env)     {}
