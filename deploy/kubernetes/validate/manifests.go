// Command validate checks go-smtp-source's Kubernetes manifests without
// a cluster: it decodes every document strictly into the API's own
// types (k8s.io/api), so that an unknown or misspelt field is an error,
// and checks the invariants a distributed run depends on (see Check).
//
//	validate job.yaml podmonitor.yaml
//
// It is a module of its own so that k8s.io never enters the main
// binary's dependencies.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Manifests are the documents of a run, by kind.
type Manifests struct {
	Job        *batchv1.Job
	Service    *corev1.Service
	PodMonitor map[string]any // its CRD types are not in k8s.io/api
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: validate FILE...")
		os.Exit(2)
	}
	m := &Manifests{}
	for _, name := range os.Args[1:] {
		data, err := os.ReadFile(name)
		if err == nil {
			err = m.Add(data)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "validate: %s: %v\n", name, err)
			os.Exit(1)
		}
	}
	errs := m.Check()
	for _, err := range errs {
		fmt.Fprintf(os.Stderr, "validate: %v\n", err)
	}
	if len(errs) > 0 {
		os.Exit(1)
	}
	fmt.Println("validate: ok")
}

// Add decodes the YAML documents in data strictly into m.
func (m *Manifests) Add(data []byte) error {
	for i, doc := range splitDocs(data) {
		if err := m.addDoc(doc); err != nil {
			return fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	return nil
}

// splitDocs cuts a YAML stream at its "---" lines and drops documents
// that hold only comments and blank lines.
func splitDocs(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		for _, l := range strings.Split(cur.String(), "\n") {
			l = strings.TrimSpace(l)
			if l != "" && !strings.HasPrefix(l, "#") {
				docs = append(docs, bytes.Clone(cur.Bytes()))
				break
			}
		}
		cur.Reset()
	}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.TrimRight(line, " \t\r\n") == "---" {
			flush()
			continue
		}
		cur.WriteString(line)
	}
	flush()
	return docs
}

func (m *Manifests) addDoc(doc []byte) error {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var dst any
	switch tm.APIVersion + " " + tm.Kind {
	case "batch/v1 Job":
		m.Job = &batchv1.Job{}
		dst = m.Job
	case "v1 Service":
		m.Service = &corev1.Service{}
		dst = m.Service
	case "monitoring.coreos.com/v1 PodMonitor":
		m.PodMonitor = map[string]any{}
		dst = &m.PodMonitor
	default:
		return fmt.Errorf("unexpected %s %s", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, dst); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return nil
}

// errList gathers the failed checks.
type errList []error

func (l *errList) add(format string, args ...any) {
	*l = append(*l, fmt.Errorf(format, args...))
}

// Check returns every invariant the manifests break.
func (m *Manifests) Check() []error {
	var errs errList
	if m.Job == nil {
		errs.add("no Job")
		return errs
	}
	checkJob(m.Job, &errs)
	if c := container(m.Job); c != nil {
		checkContainer(m.Job, c, &errs)
	} else {
		errs = append(errs, errNoContainer)
	}
	if m.Service != nil {
		checkService(m.Job, m.Service, &errs)
	}
	if m.PodMonitor != nil {
		checkPodMonitor(m.Job, m.PodMonitor, &errs)
	}
	return errs
}

// containerName is the container podFailurePolicy and the recipes name.
const containerName = "go-smtp-source"

func container(job *batchv1.Job) *corev1.Container {
	for i, c := range job.Spec.Template.Spec.Containers {
		if c.Name == containerName {
			return &job.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

var errNoContainer = errors.New("Job: no container " + containerName)
