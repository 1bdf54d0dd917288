// Package config holds a run's configuration: what to test and how to reach
// it. It is read from a YAML file, flags and environment variables (secrets
// only), and validated before anything runs.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/pdex-conform/pdex-conform/edition"
	"gopkg.in/yaml.v3"
)

// Config is everything `pdex-conform run` needs. The YAML names are the
// documented file format (README, "Configuration").
type Config struct {
	// Target is the FHIR base URL of the Provider Access endpoint, or
	// "reference" for the in-process reference server.
	Target string `yaml:"target"`
	// Edition of the PDex IG the target implements: 2.0.0, 2.1.0, 2.2.0,
	// or auto (the default) to read it from the target's
	// CapabilityStatement.
	Edition string `yaml:"edition"`
	// Group is the id of the provider attribution Group to export.
	Group string `yaml:"group"`
	// Members is the member subset for subset scenarios (patient ids);
	// default: two members of the Group.
	Members []string `yaml:"members,omitempty"`
	// OptedOut lists members known to have opted out (patient ids).
	OptedOut []string `yaml:"optedOut,omitempty"`
	// NonMember is a patient id the payer holds that is not in the Group.
	NonMember string `yaml:"nonMember,omitempty"`
	// OtherGroup is a Group the client is NOT entitled to (optional).
	OtherGroup string `yaml:"otherGroup,omitempty"`
	// LastDownloadExtension is the extension URL that records the last
	// download on the Patient (edition 2.0.0 names none).
	LastDownloadExtension string `yaml:"lastDownloadExtension,omitempty"`
	// AllowFinancial accepts financial data in claim EOBs (§pdex-323,
	// value-based contracts). Off by default.
	AllowFinancial bool `yaml:"allowFinancial,omitempty"`
	// Consent names a member the run may opt out of provider access and
	// back in by writing pdex-provider-consent resources (editions 2.1.0
	// and 2.2.0): the scenarios change that member's sharing preference on
	// the target while they run.
	Consent Consent `yaml:"consent,omitempty"`

	Auth     Auth     `yaml:"auth"`
	TLS      TLS      `yaml:"tls,omitempty"`
	Timeouts Timeouts `yaml:"timeouts,omitempty"`

	// LabelFilter selects specs by Ginkgo label expression, e.g.
	// "SHALL && !auth".
	LabelFilter string `yaml:"labelFilter,omitempty"`
	// FailOn is "shall" (default) or "should": whether SHOULD failures fail
	// the run.
	FailOn string `yaml:"failOn,omitempty"`
	// Strict makes the gate strict: SHOULD failures fail the run (as
	// failOn: should). An incomplete verdict exits 3 either way.
	Strict bool `yaml:"strict,omitempty"`
	// Faults switch on reference-server faults (target "reference" only).
	Faults []string `yaml:"faults,omitempty"`
	// Variants switch on conformant variations of the reference server
	// (target "reference" only).
	Variants []string `yaml:"variants,omitempty"`
	// Packages are FHIR package paths for profile validation.
	Packages []string `yaml:"packages,omitempty"`
	// Operation is the export operation the target implements:
	// "davinci-data-export" (PDex, the default) or "export" (plain FHIR
	// Bulk Data Group/[id]/$export, for a gap analysis: PDex-only
	// requirements are then not applicable and the run never certifies).
	Operation string `yaml:"operation,omitempty"`
	// Attestations are the payer's statements about requirements no test
	// can check over the wire, by attestation ID (see the report's
	// Attestations section).
	Attestations map[string]Attestation `yaml:"attestations,omitempty"`
}

// Operations the harness can drive.
const (
	OperationPDex = "davinci-data-export"
	OperationBulk = "export"
)

// Attestation is the payer's statement that it meets a requirement no test
// can check over the wire.
type Attestation struct {
	// Attested says the payer states it meets the requirement.
	Attested bool `yaml:"attested"`
	// By names who attests (person and role), Date when, and Evidence
	// where the proof is kept (a policy, a contract, a URL).
	By       string `yaml:"by,omitempty"`
	Date     string `yaml:"date,omitempty"`
	Evidence string `yaml:"evidence,omitempty"`
}

// Auth says how the harness authorizes.
type Auth struct {
	// Mode is "smart" (SMART Backend Services), "bearer" (a static token) or
	// "none".
	Mode       string `yaml:"mode"`
	ClientID   string `yaml:"clientId,omitempty"`
	KeyID      string `yaml:"keyId,omitempty"`
	Alg        string `yaml:"alg,omitempty"`
	PrivateKey string `yaml:"privateKey,omitempty"` // PEM or JWK; or env PDEX_CONFORM_PRIVATE_KEY
	// PrivateKeyFile is read when PrivateKey is empty.
	PrivateKeyFile string `yaml:"privateKeyFile,omitempty"`
	Scope          string `yaml:"scope,omitempty"`
	// TokenURL overrides discovery through .well-known/smart-configuration.
	TokenURL string `yaml:"tokenUrl,omitempty"`
	// BearerToken is the static token for mode "bearer"; or env
	// PDEX_CONFORM_BEARER_TOKEN.
	BearerToken string `yaml:"bearerToken,omitempty"`
	// Other is a second registered client, for isolation scenarios.
	Other *Client `yaml:"other,omitempty"`
}

// Client is a registered SMART client's credentials.
type Client struct {
	ClientID   string `yaml:"clientId"`
	KeyID      string `yaml:"keyId"`
	Alg        string `yaml:"alg"`
	PrivateKey string `yaml:"privateKey"`
}

// Consent configures the consent scenarios.
type Consent struct {
	// Member is the patient id of a member of the Group who has not opted
	// out; empty skips the scenarios that write Consents.
	Member string `yaml:"member,omitempty"`
	// Scope is asked for, with the run's client, to write Consents;
	// default system/Consent.write.
	Scope string `yaml:"scope,omitempty"`
}

// TLS configures client certificates (mTLS) and trust.
type TLS struct {
	ClientCert string `yaml:"clientCert,omitempty"` // PEM file
	ClientKey  string `yaml:"clientKey,omitempty"`  // PEM file
	CACert     string `yaml:"caCert,omitempty"`     // PEM file to trust
}

// Timeouts bound the run against slow or stuck targets.
type Timeouts struct {
	// Request bounds one HTTP exchange (and a download that receives
	// nothing).
	Request Duration `yaml:"request,omitempty"`
	// Export bounds how long one export may go without progress: from the
	// kick-off, the clock restarts whenever the server reports new progress
	// (a changed X-Progress), so a long export that keeps reporting is
	// never cut, and a stuck one ends after this long. "unlimited" waits for
	// as long as the export takes, with a progress line on the console.
	Export Duration `yaml:"export,omitempty"`
}

// Duration reads "30s", "5m" in YAML; "unlimited" is no bound (where the
// setting allows it).
type Duration struct {
	time.Duration
	Unlimited bool
}

// Unlimited is the word for no bound, in YAML and flags.
const Unlimited = "unlimited"

// ParseDuration reads a duration ("30s", "5m") or "unlimited".
func ParseDuration(s string) (Duration, error) {
	if s == Unlimited {
		return Duration{Unlimited: true}, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return Duration{}, fmt.Errorf("%q is not a duration (e.g. 30s, 5m) or %s", s, Unlimited)
	}
	return Duration{Duration: v}, nil
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*d = v
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String is the duration as YAML and flags write it.
func (d Duration) String() string {
	if d.Unlimited {
		return Unlimited
	}
	return d.Duration.String()
}

// Set reads a flag value (flag.Value).
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// DefaultLastDownloadExtension is the extension used for edition 2.0.0.
const DefaultLastDownloadExtension = "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-last-transmission"

// Load reads a YAML configuration file. Unknown keys are errors: a typo must
// not silently drop a setting.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config %s: %s", path, plainYAMLError(err))
	}
	return &c, nil
}

var (
	unknownField = regexp.MustCompile(`^(line \d+): field (\S+) not found in type \S+$`)
	wrongType    = regexp.MustCompile(`^(line \d+): cannot unmarshal !!(\w+) ` + "`" + `([^` + "`" + `]*)` + "`" + ` into (\S+)$`)
)

// plainYAMLError says what is wrong with a configuration file in its own
// terms (settings and values), not the decoder's (Go types).
func plainYAMLError(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	var out []string
	for _, e := range te.Errors {
		switch {
		case unknownField.MatchString(e):
			m := unknownField.FindStringSubmatch(e)
			out = append(out, m[1]+": unknown setting "+m[2]+" (see the README's Configuration)")
		case wrongType.MatchString(e):
			m := wrongType.FindStringSubmatch(e)
			want := "a single value"
			switch {
			case strings.HasPrefix(m[4], "[]"):
				want = "a list"
			case strings.HasPrefix(m[4], "map["), strings.HasPrefix(m[4], "config."):
				want = "a section of settings"
			case m[4] == "bool":
				want = "true or false"
			}
			out = append(out, fmt.Sprintf("%s: %q should be %s", m[1], m[3], want))
		default:
			out = append(out, e)
		}
	}
	return strings.Join(out, "; ")
}

// Write saves a configuration as YAML, readable only by its owner because it
// may hold a private key.
func (c *Config) Write(path string) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	return nil
}

// ApplyEnv fills secrets from the environment where the file left them out.
func (c *Config) ApplyEnv(getenv func(string) string) {
	if c.Auth.PrivateKey == "" {
		c.Auth.PrivateKey = getenv("PDEX_CONFORM_PRIVATE_KEY")
	}
	if c.Auth.BearerToken == "" {
		c.Auth.BearerToken = getenv("PDEX_CONFORM_BEARER_TOKEN")
	}
}

// Defaults fills what a run may leave out.
func (c *Config) Defaults() {
	if c.Edition == "" {
		c.Edition = edition.Auto
	}
	if c.Consent.Scope == "" {
		c.Consent.Scope = "system/Consent.write"
	}
	if c.Auth.Mode == "" {
		switch {
		case c.Auth.ClientID != "":
			c.Auth.Mode = "smart"
		case c.Auth.BearerToken != "":
			c.Auth.Mode = "bearer"
		default:
			c.Auth.Mode = "none"
		}
	}
	if c.Auth.Scope == "" {
		c.Auth.Scope = "system/*.read"
	}
	if c.Auth.Alg == "" && c.Auth.Mode == "smart" {
		c.Auth.Alg = "RS384"
	}
	if c.LastDownloadExtension == "" {
		c.LastDownloadExtension = DefaultLastDownloadExtension
	}
	if c.Timeouts.Request.Duration == 0 {
		c.Timeouts.Request.Duration = 30 * time.Second
	}
	if c.Timeouts.Export.Duration == 0 && !c.Timeouts.Export.Unlimited {
		c.Timeouts.Export.Duration = 5 * time.Minute
	}
	if c.FailOn == "" {
		c.FailOn = "shall"
	}
	if c.Strict {
		c.FailOn = "should"
	}
	if c.Operation == "" {
		c.Operation = OperationPDex
	}
}

// ExportOperation is the kick-off's operation as it appears in the URL,
// e.g. "$davinci-data-export".
func (c *Config) ExportOperation() string {
	if c.Operation == "" {
		return "$" + OperationPDex
	}
	return "$" + c.Operation
}

// GapAnalysis reports whether the run checks a plain Bulk Data server
// ($export) for its gaps rather than certifying a PDex one.
func (c *Config) GapAnalysis() bool { return c.Operation == OperationBulk }

// Validate reports the first thing wrong, in one plain sentence.
func (c *Config) Validate() error {
	if c.Target == "" {
		return errors.New("no target: give --target URL or --target reference")
	}
	if c.Target != "reference" {
		u, err := url.Parse(c.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("target %q is not an http(s) URL", c.Target)
		}
		if len(c.Faults) > 0 {
			return errors.New("faults can only be switched on for --target reference")
		}
		if len(c.Variants) > 0 {
			return errors.New("variants can only be switched on for --target reference")
		}
	}
	if c.Edition != edition.Auto {
		if _, err := edition.Lookup(c.Edition); err != nil {
			return fmt.Errorf("%v, or auto to read it from the target's CapabilityStatement", err)
		}
	}
	switch c.Auth.Mode {
	case "smart":
		if c.Auth.ClientID == "" {
			return errors.New("auth mode smart needs auth.clientId")
		}
		if c.Auth.PrivateKey == "" && c.Auth.PrivateKeyFile == "" {
			return errors.New("auth mode smart needs a private key (auth.privateKey, auth.privateKeyFile or PDEX_CONFORM_PRIVATE_KEY)")
		}
		if c.Auth.Alg != "RS384" && c.Auth.Alg != "ES384" {
			return fmt.Errorf("auth.alg %q is not RS384 or ES384", c.Auth.Alg)
		}
	case "bearer":
		if c.Auth.BearerToken == "" {
			return errors.New("auth mode bearer needs auth.bearerToken or PDEX_CONFORM_BEARER_TOKEN")
		}
	case "none":
	default:
		return fmt.Errorf("auth.mode %q is not smart, bearer or none", c.Auth.Mode)
	}
	if (c.TLS.ClientCert == "") != (c.TLS.ClientKey == "") {
		return errors.New("tls.clientCert and tls.clientKey go together")
	}
	if c.FailOn != "shall" && c.FailOn != "should" {
		return fmt.Errorf("failOn %q is not shall or should", c.FailOn)
	}
	if c.Operation != "" && c.Operation != OperationPDex && c.Operation != OperationBulk {
		return fmt.Errorf("operation %q is not %s or %s", c.Operation, OperationPDex, OperationBulk)
	}
	if c.Timeouts.Request.Duration < 0 || c.Timeouts.Export.Duration < 0 {
		return errors.New("timeouts must be positive")
	}
	if c.Timeouts.Request.Unlimited {
		return errors.New("timeouts.request must be a duration: a single exchange cannot go unbounded")
	}
	return nil
}

// Key returns the SMART private key's bytes from the config or its file.
func (a *Auth) Key() ([]byte, error) {
	if a.PrivateKey != "" {
		return []byte(a.PrivateKey), nil
	}
	b, err := os.ReadFile(a.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("reading the private key: %w", err)
	}
	return b, nil
}
