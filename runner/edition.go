package runner

import (
	"fmt"
	"strings"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// editionChoice is how the run settled its edition.
type editionChoice struct {
	// Why says how the edition was chosen: from the configuration, or
	// read from the target.
	Why string
	// Mismatch, when set, says that the target declares another edition
	// than the one the run holds it to.
	Mismatch string
}

// chooseEdition settles cfg.Edition from the target's CapabilityStatement,
// read before the run (nil when the target answered none). An edition given
// in the configuration stands; auto picks the edition the statement
// declares (edition.Detect), or fails asking for --edition. Either way, a
// target that declares another edition is noted, so that failures that
// follow from the difference are read as such.
func chooseEdition(cfg *config.Config, cs *framework.Capability) (editionChoice, error) {
	var declared *edition.Edition
	var why string
	var detectErr error
	if cs != nil {
		declared, why, detectErr = edition.Detect(cs.Instantiates, cs.ImplementationGuide)
	}
	if cfg.Edition == edition.Auto {
		switch {
		case cs == nil:
			return editionChoice{}, fmt.Errorf("--edition auto reads the target's CapabilityStatement, but GET /metadata answered none; give --edition %s", strings.Join(edition.Names(), ", "))
		case detectErr != nil:
			return editionChoice{}, detectErr
		}
		cfg.Edition = declared.Name
		return editionChoice{Why: fmt.Sprintf("edition %s, read from the target: %s", declared.Name, why)}, nil
	}
	ch := editionChoice{Why: fmt.Sprintf("edition %s, as configured", cfg.Edition)}
	if declared != nil && declared.Name != cfg.Edition {
		ch.Mismatch = fmt.Sprintf("The target declares PDex edition %s (%s), but the run holds it to edition %s: failures may follow from the difference between the editions alone; run with --edition %s (or --edition auto) to test it against the edition it declares.",
			declared.Name, strings.TrimPrefix(why, "the target's CapabilityStatement names "), cfg.Edition, declared.Name)
	}
	return ch, nil
}
