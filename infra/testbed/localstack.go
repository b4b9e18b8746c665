package testbed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/carrental/carrental/infra/stack"
)

// LocalStackOptions say where the tools and the state are and how to
// configure the infra program's local stack.
type LocalStackOptions struct {
	// ToolsRoot holds bin/pulumi and bin/pulumi-resource-kubernetes.
	ToolsRoot string
	// StateDir keeps the file backend and PULUMI_HOME.
	StateDir   string
	Kubeconfig string
	// Config is set on the stack; keys with a dot are object paths
	// (carrental:istioCharts.path).
	Config map[string]string
}

// LocalStack is the infra program's local stack, driven through the
// Automation API with an inline program: the Go language plugin is not
// needed, the CLI and the provider come from ToolsRoot.
type LocalStack struct {
	Stack auto.Stack
}

// OpenLocalStack creates or selects the stack "local" and sets its config.
func OpenLocalStack(ctx context.Context, o LocalStackOptions) (*LocalStack, error) {
	for _, d := range []string{filepath.Join(o.StateDir, "backend"), filepath.Join(o.StateDir, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	cli, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: o.ToolsRoot, SkipVersionCheck: true})
	if err != nil {
		return nil, fmt.Errorf("pulumi CLI in %s: %w", o.ToolsRoot, err)
	}
	backend := "file://" + filepath.Join(o.StateDir, "backend")
	env := map[string]string{
		"PATH":                     filepath.Join(o.ToolsRoot, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PULUMI_HOME":              filepath.Join(o.StateDir, "home"),
		"PULUMI_BACKEND_URL":       backend,
		"PULUMI_CONFIG_PASSPHRASE": "carrental-testbed",
		"PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK":    "true", // a CLI built from its module reports no version
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"KUBECONFIG": o.Kubeconfig,
	}
	s, err := auto.UpsertStackInlineSource(ctx, "local", "carrental", stack.Program,
		auto.Pulumi(cli),
		auto.WorkDir(o.StateDir),
		auto.EnvVars(env),
		auto.Project(workspace.Project{
			Name:    "carrental",
			Runtime: workspace.NewProjectRuntimeInfo("go", nil),
			Backend: &workspace.ProjectBackend{URL: backend},
		}),
	)
	if err != nil {
		return nil, err
	}
	plain := auto.ConfigMap{}
	for k, v := range o.Config {
		plain[k] = auto.ConfigValue{Value: v}
	}
	if err := s.SetAllConfigWithOptions(ctx, plain, &auto.ConfigOptions{Path: true}); err != nil {
		return nil, err
	}
	return &LocalStack{Stack: s}, nil
}

// Set changes one config value (an object path when the key has a dot).
func (l *LocalStack) Set(ctx context.Context, key, value string) error {
	return l.Stack.SetConfigWithOptions(ctx, key, auto.ConfigValue{Value: value}, &auto.ConfigOptions{Path: true})
}
