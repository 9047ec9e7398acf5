// Command payload is the program inside the test images that
// [github.com/ferryhq/ferry/internal/dockertest] builds. Its flags make it
// behave like the runs a launcher must handle: print numbered lines on stdout
// and stderr with a delay between them, print a long line, print its
// environment, ignore SIGTERM (otherwise it exits with code 143 on SIGTERM),
// sleep, allocate memory until the kernel kills it, and exit with a chosen
// code. Steps run in the order of the flags below.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	stdoutLines := flag.Int("stdout", 0, "print this many numbered lines on stdout")
	stderrLines := flag.Int("stderr", 0, "print this many numbered lines on stderr, interleaved with stdout")
	interval := flag.Duration("interval", 0, "pause between two numbered lines")
	long := flag.Int("long", 0, "print one line of this many 'x' bytes on stdout")
	env := flag.Bool("env", false, "print the environment, one sorted KEY=VALUE per line")
	args := flag.Bool("args", false, "print the remaining arguments, one per line")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	sleep := flag.Duration("sleep", 0, "sleep this long before exiting")
	oom := flag.Bool("oom", false, "allocate and touch memory until killed")
	exit := flag.Int("exit", 0, "exit with this code")
	flag.Parse()

	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
	} else {
		// As process 1 of a container, the payload would not be killed by a
		// signal it does not handle; exit as if it had been.
		terms := make(chan os.Signal, 1)
		signal.Notify(terms, syscall.SIGTERM)
		go func() {
			<-terms
			fmt.Println("received SIGTERM")
			os.Exit(128 + int(syscall.SIGTERM))
		}()
	}
	for i := 1; i <= max(*stdoutLines, *stderrLines); i++ {
		if i > 1 && *interval > 0 {
			time.Sleep(*interval)
		}
		if i <= *stdoutLines {
			fmt.Fprintf(os.Stdout, "out %d\n", i)
		}
		if i <= *stderrLines {
			fmt.Fprintf(os.Stderr, "err %d\n", i)
		}
	}
	if *long > 0 {
		fmt.Println(strings.Repeat("x", *long))
	}
	if *env {
		vars := os.Environ()
		slices.Sort(vars)
		fmt.Println(strings.Join(vars, "\n"))
	}
	if *args {
		for _, a := range flag.Args() {
			fmt.Println(a)
		}
	}
	if *oom {
		allocate()
	}
	time.Sleep(*sleep)
	os.Exit(*exit)
}

// allocate touches 1 MiB blocks and keeps them until the process is killed
// for exceeding its memory limit.
func allocate() {
	var blocks [][]byte
	for {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = byte(i)
		}
		blocks = append(blocks, b)
		if len(blocks)%16 == 0 {
			fmt.Printf("allocated %d MiB\n", len(blocks))
		}
	}
}
