// goroutines: workers started with go statements pass results over channels; main
// gathers them with a WaitGroup and a select, so the runtime parks and readies goroutines,
// starts Ms for them and hands Ps between them.
package main

import (
	"fmt"
	"sync"
)

func worker(id int, jobs <-chan int, results chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for j := range jobs {
		results <- j * j * id / id
	}
}

func main() {
	jobs := make(chan int)
	results := make(chan int, 100)
	var wg sync.WaitGroup
	for w := 1; w <= 4; w++ {
		wg.Add(1)
		go worker(w, jobs, results, &wg)
	}
	for i := 1; i <= 100; i++ {
		jobs <- i
	}
	close(jobs)
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	sum := 0
	for {
		select {
		case r := <-results:
			sum += r
		case <-done:
			for len(results) > 0 {
				sum += <-results
			}
			fmt.Println("sum of squares 1..100 =", sum)
			return
		}
	}
}
