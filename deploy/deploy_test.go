package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/token"
	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/plugins/spire"
	"github.com/slimid/slimid/sdk"
)

// object is the part of a Kubernetes object these checks read.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	InitContainers []container `yaml:"initContainers"`
	Containers     []container `yaml:"containers"`
	Volumes        []volume    `yaml:"volumes"`
}

type container struct {
	Name          string   `yaml:"name"`
	Image         string   `yaml:"image"`
	Args          []string `yaml:"args"`
	RestartPolicy string   `yaml:"restartPolicy"`
	VolumeMounts  []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	ReadinessProbe *struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port int    `yaml:"port"`
		} `yaml:"httpGet"`
	} `yaml:"readinessProbe"`
}

type volume struct {
	Name      string                   `yaml:"name"`
	EmptyDir  *struct{}                `yaml:"emptyDir"`
	HostPath  *struct{ Path string }   `yaml:"hostPath"`
	CSI       *struct{ Driver string } `yaml:"csi"`
	ConfigMap *struct{ Name string }   `yaml:"configMap"`
}

// mountOf is where c mounts the volume name, or "".
func (c container) mountOf(name string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == name {
			return m.MountPath
		}
	}
	return ""
}

// volumeAt is the volume c mounts at dir or above it, and the path of dir
// inside that volume.
func (c container) volumeAt(dir string) (name, rel string) {
	for _, m := range c.VolumeMounts {
		if r, err := filepath.Rel(m.MountPath, dir); err == nil && !strings.HasPrefix(r, "..") {
			return m.Name, r
		}
	}
	return "", ""
}

// manifest is one file of deploy/.
type manifest struct {
	file       string
	configMaps map[string]map[string]string
	pods       map[string]podSpec
}

func loadManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/: %v", err)
	}
	var out []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := manifest{file: f, configMaps: map[string]map[string]string{}, pods: map[string]podSpec{}}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var obj object
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			if obj.APIVersion == "" || obj.Kind == "" || obj.Metadata.Name == "" {
				t.Fatalf("%s: document %d lacks apiVersion, kind or metadata.name", f, i)
			}
			switch obj.Kind {
			case "ConfigMap":
				m.configMaps[obj.Metadata.Name] = obj.Data
			case "Deployment":
				m.pods[obj.Metadata.Name] = obj.Spec.Template.Spec
			}
		}
		if len(m.pods) == 0 {
			t.Fatalf("%s holds no Deployment", f)
		}
		out = append(out, m)
	}
	return out
}

func (p podSpec) all() []container { return append(slices.Clone(p.InitContainers), p.Containers...) }

func (p podSpec) container(t *testing.T, name string) container {
	t.Helper()
	for _, c := range p.all() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return container{}
}

func (p podSpec) volume(name string) (volume, bool) {
	for _, v := range p.Volumes {
		if v.Name == name {
			return v, true
		}
	}
	return volume{}, false
}

// TestPodsAreWhole: every mount names a declared volume, every ConfigMap a
// pod uses is in the same file, and the broker's config file is one of its
// keys.
func TestPodsAreWhole(t *testing.T) {
	for _, m := range loadManifests(t) {
		t.Run(m.file, func(t *testing.T) {
			for name, pod := range m.pods {
				for _, c := range pod.all() {
					for _, mount := range c.VolumeMounts {
						if _, ok := pod.volume(mount.Name); !ok {
							t.Errorf("%s/%s mounts undeclared volume %q", name, c.Name, mount.Name)
						}
					}
				}
				for _, v := range pod.Volumes {
					if v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] == nil {
						t.Errorf("%s: volume %q uses ConfigMap %q, which the file does not define", name, v.Name, v.ConfigMap.Name)
					}
				}
				for _, c := range pod.InitContainers {
					if c.RestartPolicy != "Always" {
						t.Errorf("%s/%s is an init container that ends: sidecars need restartPolicy Always", name, c.Name)
					}
				}
				if _, data := brokerConfig(t, m, pod, pod.container(t, "slimid")); data == "" {
					t.Errorf("%s: the broker's --config is not a key of a mounted ConfigMap", name)
				}
			}
		})
	}
}

// brokerConfig finds the file the broker container is started with and
// returns its path and its text from the ConfigMap mounted there.
func brokerConfig(t *testing.T, m manifest, pod podSpec, c container) (string, string) {
	t.Helper()
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("the broker container has no --config argument: %q", c.Args)
	}
	file := c.Args[i+1]
	vol, rel := c.volumeAt(path.Dir(file))
	v, ok := pod.volume(vol)
	if !ok || v.ConfigMap == nil || rel != "." {
		return file, ""
	}
	return file, m.configMaps[v.ConfigMap.Name][path.Base(file)]
}

// helperConf mirrors the keys of spiffe-helper's HCL configuration that a
// sidecar sets.
type helperConf struct {
	AgentAddress       string `hcl:"agent_address"`
	Cmd                string `hcl:"cmd"`
	CmdArgs            string `hcl:"cmd_args"`
	CertDir            string `hcl:"cert_dir"`
	DaemonMode         *bool  `hcl:"daemon_mode"`
	SVIDFileName       string `hcl:"svid_file_name"`
	SVIDKeyFileName    string `hcl:"svid_key_file_name"`
	SVIDBundleFileName string `hcl:"svid_bundle_file_name"`
	JWTBundleFileName  string `hcl:"jwt_bundle_file_name"`
	JWTSVIDs           []struct {
		JWTAudience     string `hcl:"jwt_audience"`
		JWTSVIDFileName string `hcl:"jwt_svid_file_name"`
	} `hcl:"jwt_svids"`
	Unused map[string][]token.Pos `hcl:",unusedKeyPositions"`
}

// TestSpiffeHelperSidecar checks helper.conf against SLIM's sidecar settings
// and the plugin's defaults, and that spiffe-helper and the broker share
// cert_dir and spiffe-helper reaches the agent socket.
func TestSpiffeHelperSidecar(t *testing.T) {
	found := false
	for _, m := range loadManifests(t) {
		raw, ok := m.configMaps["spiffe-helper"]["helper.conf"]
		if !ok {
			continue
		}
		found = true
		var conf helperConf
		if err := hcl.Decode(&conf, raw); err != nil {
			t.Fatalf("%s: helper.conf is not HCL that spiffe-helper reads: %v", m.file, err)
		}
		if len(conf.Unused) > 0 {
			t.Errorf("%s: helper.conf has keys this check does not know: %v", m.file, slices.Sorted(maps.Keys(conf.Unused)))
		}
		want := map[string][2]string{
			"cert_dir":              {conf.CertDir, "/svids"},
			"svid_file_name":        {conf.SVIDFileName, spiffehelper.DefaultSVIDFileName},
			"svid_key_file_name":    {conf.SVIDKeyFileName, spiffehelper.DefaultSVIDKeyFileName},
			"svid_bundle_file_name": {conf.SVIDBundleFileName, spiffehelper.DefaultSVIDBundleFileName},
			"jwt_bundle_file_name":  {conf.JWTBundleFileName, spiffehelper.DefaultJWTBundleFileName},
		}
		for key, v := range want {
			if v[0] != v[1] {
				t.Errorf("%s: helper.conf %s = %q; want %q", m.file, key, v[0], v[1])
			}
		}
		if conf.DaemonMode == nil || !*conf.DaemonMode {
			t.Errorf("%s: helper.conf daemon_mode must be true, or spiffe-helper writes once and exits", m.file)
		}
		if len(conf.JWTSVIDs) != 1 || conf.JWTSVIDs[0].JWTAudience != "slim-demo" || conf.JWTSVIDs[0].JWTSVIDFileName != spiffehelper.DefaultJWTSVIDFileName {
			t.Errorf("%s: helper.conf jwt_svids = %+v; want one for audience slim-demo in %s", m.file, conf.JWTSVIDs, spiffehelper.DefaultJWTSVIDFileName)
		}

		for name, pod := range m.pods {
			helper := pod.container(t, "spiffe-helper")
			slimid := pod.container(t, "slimid")
			certVol, rel := helper.volumeAt(conf.CertDir)
			if certVol == "" || rel != "." {
				t.Fatalf("%s: spiffe-helper does not mount a volume at its cert_dir %s", name, conf.CertDir)
			}
			if v, _ := pod.volume(certVol); v.EmptyDir == nil {
				t.Errorf("%s: cert_dir volume %q is not an emptyDir shared in the pod", name, certVol)
			}
			if got := slimid.mountOf(certVol); got != conf.CertDir {
				t.Errorf("%s: the broker mounts %q at %q; want %q, where spiffe-helper writes", name, certVol, got, conf.CertDir)
			}
			sockVol, _ := helper.volumeAt(path.Dir(conf.AgentAddress))
			if v, ok := pod.volume(sockVol); !ok || (v.CSI == nil && v.HostPath == nil) {
				t.Errorf("%s: spiffe-helper's agent_address %s is not on the SPIRE agent socket volume (CSI driver or hostPath)", name, conf.AgentAddress)
			}
		}
	}
	if !found {
		t.Fatal("no manifest holds spiffe-helper's helper.conf")
	}
}

// TestBrokerConfigs parses each broker configuration as the broker does and
// has each plugin entry's config accepted by that plugin's own
// ValidateConfig. The broker socket must be on a volume the application
// shares, and the readiness probe must hit the broker's HTTP port.
func TestBrokerConfigs(t *testing.T) {
	validators := map[string]func() sdk.Plugin{
		spiffehelper.Name: func() sdk.Plugin { return spiffehelper.New(spiffehelper.WithRegisterer(nil)) },
		spire.Name:        func() sdk.Plugin { return spire.New() },
	}
	types := map[string]bool{}
	for _, m := range loadManifests(t) {
		for name, pod := range m.pods {
			t.Run(m.file+"/"+name, func(t *testing.T) {
				c := pod.container(t, "slimid")
				file, text := brokerConfig(t, m, pod, c)
				cfg, err := broker.ParseConfig([]byte(text), path.Dir(file))
				if err != nil {
					t.Fatalf("broker config %s: %v", file, err)
				}
				if len(cfg.Plugins) == 0 {
					t.Fatalf("broker config %s names no plugin", file)
				}
				for _, entry := range cfg.Plugins {
					newPlugin, ok := validators[entry.Type]
					if !ok {
						t.Fatalf("plugin %q: type %q is not one this check knows", entry.Name, entry.Type)
					}
					if _, err := newPlugin().ValidateConfig(t.Context(), []byte(entry.Config)); err != nil {
						t.Errorf("plugin %q (%s) refuses its config: %v", entry.Name, entry.Type, err)
					}
					types[entry.Type] = true
				}

				sockVol, _ := c.volumeAt(path.Dir(cfg.Socket))
				app := pod.container(t, "app")
				if sockVol == "" || app.mountOf(sockVol) != c.mountOf(sockVol) {
					t.Errorf("broker socket %s is not on a volume the app mounts at the same place", cfg.Socket)
				}
				if p := c.ReadinessProbe; p == nil || p.HTTPGet.Path != "/readyz" || !strings.HasSuffix(cfg.HTTP, ":"+strconv.Itoa(p.HTTPGet.Port)) {
					t.Errorf("readiness probe %+v does not hit /readyz on the broker's http %q", p, cfg.HTTP)
				}
			})
		}
	}
	for _, want := range []string{spiffehelper.Name, spire.Name} {
		if !types[want] {
			t.Errorf("no manifest runs the broker with a %s plugin", want)
		}
	}
}
