package suites

import "github.com/pdex-conform/pdex-conform/suites/framework"

func registerSubset(e *framework.Env)     {}
func registerTypes(e *framework.Env)      {}
func registerSince(e *framework.Env)      {}
func registerExportType(e *framework.Env) {}
func registerExportMode(e *framework.Env) {}
func registerOptOut(e *framework.Env)     {}
func registerFinancial(e *framework.Env)  {}
func registerMechanics(e *framework.Env)  {}
