package asmtest

import "testing"

// The functions that can run safely on a real CPU: sum, and sumWrong, whose failure is
// the point (TestSumWrong fails, with the got/want emu test reports). addClobberBP and
// maxPastResult corrupt their caller (its frame pointer, its frame): they are left to
// go vet, which reports them, and to emu test, which catches them as they run.

func TestSum(t *testing.T) {
	for _, c := range []struct {
		xs   []uint64
		want uint64
	}{
		{[]uint64{1, 2, 3, 40}, 46},
		{[]uint64{}, 0},
		{[]uint64{1 << 63, 1 << 63, 5}, 5},
	} {
		if got := sum(c.xs); got != c.want {
			t.Errorf("sum(%v): got %d, want %d", c.xs, got, c.want)
		}
	}
}

func TestSumWrong(t *testing.T) {
	xs := []uint64{1, 2, 3}
	if got, want := sumWrong(xs), uint64(6); got != want {
		t.Errorf("sumWrong(%v): got %d, want %d", xs, got, want)
	}
}
