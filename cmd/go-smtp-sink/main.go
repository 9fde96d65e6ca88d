// Command go-smtp-sink is a drop-in replacement for Postfix's
// smtp-sink(1): an SMTP and LMTP server that takes mail and throws it
// away, for measuring clients. See docs/go-smtp-sink.1.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/go-smtp-source/go-smtp-source/internal/cli"
	"github.com/go-smtp-source/go-smtp-source/internal/cores"
	"github.com/go-smtp-source/go-smtp-source/internal/delivery"
	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/target"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is the program, returning its exit status.
func run(argv []string, stdout, stderr io.Writer) int {
	prog := argv[0]
	log := slog.New(cli.NewHandler(stderr, prog, slog.LevelInfo))
	fatal := func(msg string) int {
		log.Log(context.Background(), cli.LevelFatal, msg)
		return cli.ExitFatal
	}

	o, err := parseOptions(argv)
	for _, e := range o.errs {
		log.Error(e)
	}
	switch {
	case o.help:
		fmt.Fprint(stdout, helpText(filepath.Base(prog)))
		return cli.ExitOK
	case errors.Is(err, errUsage):
		return fatal(usageLine(prog))
	case isGetoptError(err):
		fmt.Fprintln(stderr, cli.GetoptMessage(prog, err))
		return fatal(usageLine(prog))
	case err != nil:
		return fatal(err.Error())
	}
	if o.counter {
		o.cfg.Counter = stdout
	}

	ctx, stop := signal.NotifyContext(context.Background(),
		os.Interrupt, syscall.SIGTERM)
	defer stop()
	signal.Ignore(syscall.SIGPIPE)
	if err := serve(ctx, o, log); err != nil {
		return fatal(err.Error())
	}
	return cli.ExitOK
}

// serve opens the --out file and the listener, drops privileges and
// runs the server until a signal or a limit stops it.
func serve(ctx context.Context, o *options, log *slog.Logger) error {
	if os.Geteuid() == 0 && o.user == "" {
		log.Warn("running as root: no -u option given, keeping root" +
			" privileges")
	}
	t, err := target.ParseListen(o.listen)
	if err != nil {
		return err
	}
	// The --out file is opened before the listener, so that a sink
	// that cannot keep its result never takes mail, and before -u and
	// -R, which could take the file out of reach.
	out, err := openOut(o.out)
	if err != nil {
		return err
	}
	started := false
	defer func() {
		if !started {
			out.abandon()
		}
	}()
	ln, err := target.Listen(ctx, t, o.family, o.backlog, o.window)
	if err != nil {
		return err
	}
	defer ln.Close()

	// What needs files outside a chroot comes before it.
	if o.cfg.StartTLS || o.cfg.ImplicitTLS {
		o.cfg.TLS, err = sink.TLSConfig(o.tlsCert, o.tlsKey, hostname(o))
		if err != nil {
			return err
		}
	}
	if o.users != "" {
		if o.cfg.Users, err = sink.LoadUsers(o.users); err != nil {
			return err
		}
	}
	if o.syslog {
		o.cfg.Syslog = openSyslog(log)
	}
	if o.root != "" || o.user != "" {
		if err := sink.DropPrivileges(o.root, o.user); err != nil {
			return err
		}
	}

	if o.deliver {
		o.cfg.Delivery = delivery.New(o.runID)
	}
	srv, err := sink.New(o.cfg, log)
	if err != nil {
		return err
	}
	if err := out.ready(); err != nil {
		return err
	}
	started = true
	stopCores := cores.Start(ctx, log)
	err = srv.Serve(ctx, ln)
	stopCores()
	if !o.noSum {
		log.Info("summary: " + srv.Stats().String())
	}
	if derr := finishDelivery(o, out, log); err == nil {
		err = derr
	}
	return err
}

// hostname is the name in the self-signed certificate.
func hostname(o *options) string {
	if o.cfg.Hostname != "" {
		return o.cfg.Hostname
	}
	return sink.DefaultHostname
}

// openSyslog connects -s to syslog(3)'s mail facility, as smtp-sink's
// openlog(3) does; without a syslog daemon the lines are dropped.
func openSyslog(log *slog.Logger) sink.Syslogger {
	tag := filepath.Base(os.Args[0])
	w, err := syslog.New(syslog.LOG_MAIL|syslog.LOG_INFO, tag)
	if err != nil {
		log.Warn("syslog: " + err.Error() + "; -s lines are dropped")
		return nil
	}
	return w
}
