package main

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// runLabel is the label that ties a run's pods, Service and logs.
const runLabel = "go-smtp-source/run"

// checkJob checks the Job's own fields: every shard runs at once and
// exactly once, and a missed start ends the run.
func checkJob(job *batchv1.Job, errs *errList) {
	s := job.Spec
	mode := s.CompletionMode
	if mode == nil || *mode != batchv1.IndexedCompletion {
		errs.add("Job: completionMode must be Indexed (the index is " +
			"the shard)")
	}
	if s.Completions == nil || s.Parallelism == nil ||
		*s.Completions != *s.Parallelism || *s.Completions < 1 {
		errs.add("Job: completions and parallelism must be equal: " +
			"every shard runs at once")
	}
	perIndex := s.BackoffLimitPerIndex != nil &&
		*s.BackoffLimitPerIndex == 0
	if !perIndex && (s.BackoffLimit == nil || *s.BackoffLimit != 0) {
		errs.add("Job: backoffLimit must be 0: a shard must never run " +
			"twice")
	}
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		errs.add("Job: restartPolicy must be Never")
	}
	if ttl := s.TTLSecondsAfterFinished; ttl == nil || *ttl <= 0 {
		errs.add("Job: ttlSecondsAfterFinished must be positive, to " +
			"keep the logs for collect.sh")
	}
	checkFailurePolicy(s.PodFailurePolicy, errs)
	checkDeadline(job, errs)
	checkName(job, errs)
}

// checkFailurePolicy wants exit status 3 to fail the Job, and no rule
// that would re-run a shard.
func checkFailurePolicy(p *batchv1.PodFailurePolicy, errs *errList) {
	failsOn3 := false
	if p != nil {
		for _, r := range p.Rules {
			if r.Action == batchv1.PodFailurePolicyActionIgnore {
				errs.add("Job: podFailurePolicy must not Ignore a " +
					"failure: the shard would run again")
			}
			e := r.OnExitCodes
			if r.Action == batchv1.PodFailurePolicyActionFailJob &&
				e != nil &&
				e.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn &&
				slices.Contains(e.Values, 3) &&
				(e.ContainerName == nil ||
					*e.ContainerName == containerName) {
				failsOn3 = true
			}
		}
	}
	if !failsOn3 {
		errs.add("Job: podFailurePolicy needs a FailJob rule on exit " +
			"code 3 (a shard missed --start-at)")
	}
}

// checkDeadline wants activeDeadlineSeconds to leave room for the lead,
// the load, the linger and the grace period, as render.sh recorded them.
func checkDeadline(job *batchv1.Job, errs *errList) {
	need := int64(0)
	for _, a := range []string{"lead-seconds", "duration-seconds",
		"linger-seconds"} {
		v, err := strconv.ParseInt(job.Annotations["go-smtp-source/"+a],
			10, 64)
		if err != nil || v < 0 {
			errs.add("Job: annotation go-smtp-source/%s must be a "+
				"number of seconds", a)
			return
		}
		need += v
	}
	if g := job.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		need += *g
	}
	d := job.Spec.ActiveDeadlineSeconds
	if d == nil || *d < need {
		errs.add("Job: activeDeadlineSeconds must be at least lead + "+
			"duration + linger + grace = %d", need)
	}
}

// checkName wants the pods' host names (<job>-<index>) to be DNS
// labels.
func checkName(job *batchv1.Job, errs *errList) {
	n := int32(1)
	if job.Spec.Completions != nil {
		n = *job.Spec.Completions
	}
	host := job.Name + "-" + strconv.Itoa(int(n-1))
	if len(host) > 63 || !dnsLabel(host) {
		errs.add("Job: name %q makes pod host names such as %q that "+
			"are not DNS labels", job.Name, host)
	}
}

func dnsLabel(s string) bool {
	for i, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' && i > 0 && i < len(s)-1
		if !ok {
			return false
		}
	}
	return s != ""
}

// checkContainer checks the go-smtp-source container as each pod will
// run it: the shard count it is told, its arguments once the kubelet
// has expanded them, and its metrics port.
func checkContainer(job *batchv1.Job, c *corev1.Container,
	errs *errList) {
	env := envOf(c)
	n, err := strconv.Atoi(env["GO_SMTP_SOURCE_SHARDS"])
	if err != nil || job.Spec.Completions == nil ||
		int32(n) != *job.Spec.Completions {
		errs.add("container: GO_SMTP_SOURCE_SHARDS must equal " +
			"completions")
	}
	for _, index := range []int{0, max(n-1, 0)} {
		args, undefined := podArgs(c, index)
		checkArgs(args, job.Spec.Template.Labels[runLabel], errs)
		for _, u := range undefined {
			errs.add("args: $(%s) is not in the container's "+
				"environment", u)
		}
	}
	checkPort(c, PodArgs(c, 0), errs)
}

// envOf returns the container's literal environment.
func envOf(c *corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	return env
}

// PodArgs returns the container's arguments as the kubelet passes them
// to the process of the pod with completion index index: $(VAR) is
// replaced from the container's environment, to which the Job
// controller adds JOB_COMPLETION_INDEX.
func PodArgs(c *corev1.Container, index int) []string {
	args, _ := podArgs(c, index)
	return args
}

// podArgs is PodArgs, and the variables referred to but not defined.
func podArgs(c *corev1.Container, index int) (args, undefined []string) {
	env := envOf(c)
	env["JOB_COMPLETION_INDEX"] = strconv.Itoa(index)
	for _, a := range slices.Concat(c.Command, c.Args) {
		x, u := expand(a, env)
		args = append(args, x)
		undefined = append(undefined, u...)
	}
	return args, undefined
}

// expand replaces $(VAR) as the kubelet does: a defined variable by its
// value, an undefined one left as written (and returned), and $$ by $.
func expand(s string, env map[string]string) (string, []string) {
	var b strings.Builder
	var undefined []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := env[name]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+end])
					undefined = append(undefined, name)
				}
				i += 2 + end
				continue
			}
		}
		b.WriteByte('$')
	}
	return b.String(), undefined
}

// flagValue returns the value of --name=value in args.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// checkArgs wants the distribution options that make the pod a shard
// of this run, resolved.
func checkArgs(args []string, run string, errs *errList) {
	if v, _ := flagValue(args, "shard"); v != "auto" {
		errs.add("args: want --shard=auto (the index comes from the Job)")
	}
	if v, _ := flagValue(args, "out"); v != "-" {
		errs.add("args: want --out=- (results travel in the logs)")
	}
	if v, _ := flagValue(args, "run-id"); v == "" || v != run {
		errs.add("args: --run-id=%q must be the pods' %s label %q", v,
			runLabel, run)
	}
	v, _ := flagValue(args, "start-at")
	if _, err := time.Parse(time.RFC3339, v); err != nil {
		errs.add("args: --start-at=%q is not an RFC 3339 time", v)
	}
}

// checkPort wants the container port named metrics to be the one
// --metrics-addr listens on.
func checkPort(c *corev1.Container, args []string, errs *errList) {
	addr, _ := flagValue(args, "metrics-addr")
	_, port, err := net.SplitHostPort(addr)
	var named int32
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			named = p.ContainerPort
		}
	}
	if err != nil || port != strconv.Itoa(int(named)) {
		errs.add("container: port metrics (%d) must be the port of "+
			"--metrics-addr=%s", named, addr)
	}
}

// checkService wants a headless Service that selects the pods and is
// their subdomain.
func checkService(job *batchv1.Job, svc *corev1.Service,
	errs *errList) {
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		errs.add("Service: clusterIP must be None (headless)")
	}
	if job.Spec.Template.Spec.Subdomain != svc.Name {
		errs.add("Service: name %q must be the pods' subdomain %q",
			svc.Name, job.Spec.Template.Spec.Subdomain)
	}
	if !selects(svc.Spec.Selector, job.Spec.Template.Labels) {
		errs.add("Service: selector %v does not select the pods %v",
			svc.Spec.Selector, job.Spec.Template.Labels)
	}
	ok := false
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.String() == "metrics" {
			ok = true
		}
	}
	if !ok {
		errs.add("Service: no port targets the pods' metrics port")
	}
}

// selects reports whether a non-empty selector matches labels.
func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// checkPodMonitor wants the PodMonitor to select the pods and scrape
// their metrics port.
func checkPodMonitor(job *batchv1.Job, pm map[string]any,
	errs *errList) {
	spec, _ := pm["spec"].(map[string]any)
	selector, _ := spec["selector"].(map[string]any)
	match, _ := selector["matchLabels"].(map[string]any)
	sel := map[string]string{}
	for k, v := range match {
		s, _ := v.(string)
		sel[k] = s
	}
	if !selects(sel, job.Spec.Template.Labels) {
		errs.add("PodMonitor: spec.selector.matchLabels %v does not "+
			"select the pods", sel)
	}
	eps, _ := spec["podMetricsEndpoints"].([]any)
	if len(eps) == 0 {
		errs.add("PodMonitor: no spec.podMetricsEndpoints")
	}
	for _, e := range eps {
		ep, _ := e.(map[string]any)
		if ep["port"] != "metrics" {
			errs.add("PodMonitor: endpoint port %v is not metrics",
				ep["port"])
		}
	}
}
