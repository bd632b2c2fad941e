// Command gofer-benches-go is the Go peer of gofer's side-by-side
// benchmarks (benches/src/main.rs builds and runs it): the same workloads,
// written the way Go programmers write them, run from the main goroutine.
//
//	gofer-benches-go -w WORKLOAD -n N -budget MS   prints "RESULT <value>"
//	gofer-benches-go -serve echo|http              prints "LISTEN <addr>", serves until killed
//
// GOMAXPROCS comes from the environment. Each measured run stops after N
// operations or the budget, whichever comes first, and is timed over the
// operations it did (spawn, chain and rss always do all N).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	workload := flag.String("w", "", "workload")
	n := flag.Int("n", 0, "operations")
	budgetMs := flag.Int("budget", 500, "time budget in ms")
	serve := flag.String("serve", "", "echo or http: run a server")
	flag.Parse()

	if *serve != "" {
		if err := runServer(*serve); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	deadline := time.Now().Add(time.Duration(*budgetMs) * time.Millisecond)
	v, err := run(*workload, *n, deadline)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("RESULT %g\n", v)
}

func perOp(t time.Time, ops int) float64 {
	if ops < 1 {
		ops = 1
	}
	return float64(time.Since(t).Nanoseconds()) / float64(ops)
}

// over: has the budget run out? Looks at the clock every `every` ops,
// never before the first `every`.
func over(i, every int, deadline time.Time) bool {
	return i > 0 && i%every == 0 && !time.Now().Before(deadline)
}

func run(w string, n int, deadline time.Time) (float64, error) {
	switch w {
	case "spawn":
		return spawnJoin(n), nil
	case "chain":
		return chain(n), nil
	case "yield":
		return yields(n, deadline), nil
	case "park":
		return parkPingPong(n, deadline), nil
	case "pingpong":
		return pingPong(n, deadline), nil
	case "select4":
		return select4(n, deadline)
	case "select-default":
		return selectDefault(n, deadline), nil
	case "mutex-uncontended":
		return mutexUncontended(n, deadline)
	case "mutex-contended":
		return mutexContended(4, n, deadline)
	case "rss-100k", "rss-1m":
		return rss(n), nil
	}
	// bounded<cap>-<p>x<c>
	if flavor, shape, ok := strings.Cut(w, "-"); ok && strings.HasPrefix(flavor, "bounded") {
		capacity, err1 := strconv.Atoi(strings.TrimPrefix(flavor, "bounded"))
		ps, cs, ok2 := strings.Cut(shape, "x")
		p, err2 := strconv.Atoi(ps)
		c, err3 := strconv.Atoi(cs)
		if err1 == nil && ok2 && err2 == nil && err3 == nil {
			return throughput(capacity, p, c, n, deadline)
		}
	}
	return 0, fmt.Errorf("go: no workload %q", w)
}

// spawnJoin: n empty goroutines, joined with a WaitGroup (Go has no join
// handle).
func spawnJoin(n int) float64 {
	t := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
	return perOp(t, n)
}

// chain: each goroutine starts the next and exits; the last closes done.
func chain(n int) float64 {
	done := make(chan struct{})
	var link func(left int)
	link = func(left int) {
		if left == 0 {
			close(done)
			return
		}
		go link(left - 1)
	}
	t := time.Now()
	go link(n)
	<-done
	return perOp(t, n)
}

func yields(n int, deadline time.Time) float64 {
	t := time.Now()
	counts := make(chan int, 2)
	for k := 0; k < 2; k++ {
		go func() {
			i := 0
			for i < n && !over(i, 1024, deadline) {
				runtime.Gosched()
				i++
			}
			counts <- i
		}()
	}
	total := <-counts + <-counts
	return perOp(t, total)
}

// parkPingPong: Go has no park/unpark; the closest is a pair of channels
// of capacity 1 used as wake-up permits.
func parkPingPong(n int, deadline time.Time) float64 {
	ping := make(chan struct{}, 1)
	pong := make(chan struct{}, 1)
	quit := int32(0)
	finished := make(chan struct{})
	go func() {
		for range ping {
			if atomic.LoadInt32(&quit) != 0 {
				break
			}
			pong <- struct{}{}
		}
		close(finished)
	}()
	t := time.Now()
	done := 0
	for done < n && !over(done, 16, deadline) {
		ping <- struct{}{}
		<-pong
		done++
	}
	ns := perOp(t, done)
	atomic.StoreInt32(&quit, 1)
	ping <- struct{}{}
	<-finished
	return ns
}

func pingPong(n int, deadline time.Time) float64 {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for i := range ping {
			pong <- i
		}
	}()
	t := time.Now()
	done := 0
	for done < n && !over(done, 16, deadline) {
		ping <- done
		if <-pong != done {
			panic("wrong value")
		}
		done++
	}
	ns := perOp(t, done)
	close(ping)
	return ns
}

func throughput(capacity, producers, consumers, n int, deadline time.Time) (float64, error) {
	ch := make(chan int, capacity)
	each := n / producers
	var sent, got int64
	var pwg, cwg sync.WaitGroup
	t := time.Now()
	for p := 0; p < producers; p++ {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			i := 0
			for i < each && !over(i, 256, deadline) {
				ch <- i
				i++
			}
			atomic.AddInt64(&sent, int64(i))
		}()
	}
	for c := 0; c < consumers; c++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			k := 0
			for range ch {
				k++
			}
			atomic.AddInt64(&got, int64(k))
		}()
	}
	pwg.Wait()
	close(ch)
	cwg.Wait()
	ns := perOp(t, int(got))
	if got != sent {
		return 0, fmt.Errorf("messages lost or duplicated: sent %d, got %d", sent, got)
	}
	return ns, nil
}

// select4: 4 senders each on its own unbuffered channel, one receiver
// selecting. When the receiver is done it raises stop and drains what
// the senders still send (untimed); each sender closes its channel.
func select4(n int, deadline time.Time) (float64, error) {
	each := n / 4
	var stop int32
	var sent int64
	chans := make([]chan int, 4)
	for k := range chans {
		ch := make(chan int)
		chans[k] = ch
		go func() {
			i := 0
			for i < each && atomic.LoadInt32(&stop) == 0 {
				ch <- i
				i++
			}
			atomic.AddInt64(&sent, int64(i))
			close(ch)
		}()
	}
	c0, c1, c2, c3 := chans[0], chans[1], chans[2], chans[3]
	// recv takes one message from whichever channel is ready; a closed
	// channel (its sender is done) is set to nil so select skips it.
	open := 4
	recv := func() bool {
		var ok bool
		select {
		case _, ok = <-c0:
			if !ok {
				c0 = nil
			}
		case _, ok = <-c1:
			if !ok {
				c1 = nil
			}
		case _, ok = <-c2:
			if !ok {
				c2 = nil
			}
		case _, ok = <-c3:
			if !ok {
				c3 = nil
			}
		}
		if !ok {
			open--
		}
		return ok
	}
	t := time.Now()
	got := 0
	for got < 4*each && open > 0 && !over(got, 16, deadline) {
		if recv() {
			got++
		}
	}
	ns := perOp(t, got)
	atomic.StoreInt32(&stop, 1)
	drained := 0
	for open > 0 {
		if recv() {
			drained++
		}
	}
	if int64(got+drained) != atomic.LoadInt64(&sent) {
		return 0, fmt.Errorf("messages lost or duplicated")
	}
	return ns, nil
}

func selectDefault(n int, deadline time.Time) float64 {
	c0, c1, c2, c3 := make(chan int), make(chan int), make(chan int), make(chan int)
	t := time.Now()
	done := 0
	for done < n && !over(done, 256, deadline) {
		select {
		case <-c0:
			panic("ready")
		case <-c1:
			panic("ready")
		case <-c2:
			panic("ready")
		case <-c3:
			panic("ready")
		default:
		}
		done++
	}
	return perOp(t, done)
}

// mutexUncontended: one goroutine locks and unlocks a sync.Mutex around
// an increment, up to n times.
func mutexUncontended(n int, deadline time.Time) (float64, error) {
	var mu sync.Mutex
	counter := 0
	t := time.Now()
	done := 0
	for done < n && !over(done, 1024, deadline) {
		mu.Lock()
		counter++
		mu.Unlock()
		done++
	}
	ns := perOp(t, done)
	if counter != done {
		return 0, fmt.Errorf("increments lost: %d of %d", counter, done)
	}
	return ns, nil
}

// mutexContended: `parties` goroutines each increment one shared counter
// under a sync.Mutex up to n/parties times; the count checked exactly.
func mutexContended(parties, n int, deadline time.Time) (float64, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	each := n / parties
	var total int64
	t := time.Now()
	for p := 0; p < parties; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := 0
			for i < each && !over(i, 256, deadline) {
				mu.Lock()
				counter++
				mu.Unlock()
				i++
			}
			atomic.AddInt64(&total, int64(i))
		}()
	}
	wg.Wait()
	ns := perOp(t, int(total))
	if int64(counter) != total {
		return 0, fmt.Errorf("increments lost or duplicated: counter %d, %d done", counter, total)
	}
	return ns, nil
}

func rssKiB() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.Atoi(f[1])
				return v
			}
		}
	}
	return 0
}

// rss: n goroutines wait in <-done on one shared channel; KiB of RSS per
// goroutine, from the start of main (after the runtime started).
func rss(n int) float64 {
	before := rssKiB()
	done := make(chan struct{})
	var parked int64
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&parked, 1)
			<-done
		}()
	}
	for atomic.LoadInt64(&parked) < int64(n) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	per := float64(rssKiB()-before) / float64(n)
	close(done)
	return per
}

func runServer(kind string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	switch kind {
	case "echo":
		for {
			conn, err := ln.Accept()
			if err != nil {
				return err
			}
			go echo(conn)
		}
	case "http":
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("Hello, World!"))
		})
		return http.Serve(ln, nil)
	}
	return fmt.Errorf("unknown server kind %q", kind)
}

// echo: a plain read/write loop, like the Rust servers (io.Copy would
// splice(2) from the socket to itself).
func echo(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 16*1024)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
