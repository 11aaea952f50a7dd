package errenvelope

// The Prometheus counter of examined responses, by outcome, reason, route
// and upstream.

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

var allReasons = []string{
	reasonConforming, reasonHead, reasonStream, reasonNotJSON, reasonEmpty, reasonInvalidJSON,
	reasonNotObject, reasonMissingFields, reasonDuplicate, reasonCodePattern, reasonTooLarge,
	reasonBadEncoding, reasonGatewayError, reasonUnknownCode, reasonGRPC, reasonFormat, reasonScrubbed,
}

var allOutcomes = []string{outcomePassed, outcomeRewritten, outcomeGateway, outcomeReported}

// Positions of outcomes and reasons in a seriesRow.
var (
	outcomeIndex = indexOf(allOutcomes)
	reasonIndex  = indexOf(allReasons)
)

func indexOf(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

// maxUpstreams bounds the distinct upstream label values of one handler:
// a dynamic upstream list must not blow up the series.
const maxUpstreams = 100

// upstreamOther is the upstream label of every upstream past maxUpstreams.
const upstreamOther = "other"

// newResponsesCounter is the counter of examined responses. Every handler
// of a config shares the one registered in that config's registry.
func newResponsesCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "http_error_envelope",
		Name:      "responses_total",
		Help:      "Error responses examined by error_envelope, by outcome (passed, rewritten, gateway, reported), reason, route (the handler's name) and upstream (host:port).",
	}, []string{"outcome", "reason", "route", "upstream"})
}

// newScrubbedCounter is the counter of scrubbed messages, shared like the
// responses counter.
func newScrubbedCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "http_error_envelope",
		Name:      "scrubbed_total",
		Help:      "Upstream messages in which error_envelope's scrubbing found something, by route (the handler's name), upstream (host:port) and detector.",
	}, []string{"route", "upstream", "detector"})
}

// counterSet is one handler's view of the counter: its route label, and
// the series of each upstream it has seen, each resolved the first time
// it counts. So /metrics shows only series that have counted, and
// counting afterwards is a read-locked map read, an atomic load and an
// atomic add, without allocation.
type counterSet struct {
	vec      *prometheus.CounterVec
	scrubVec *prometheus.CounterVec
	route    string

	mu       sync.RWMutex
	rows     map[string]*seriesRow // by upstream as seen, "" for none
	distinct int                   // non-empty upstreams with a row of their own
	other    *seriesRow
}

// seriesRow holds the series of one upstream label.
type seriesRow struct {
	upstream string
	series   []atomic.Pointer[prometheus.Counter] // [outcome*len(allReasons)+reason]
	scrubbed [numDetectors]atomic.Pointer[prometheus.Counter]
}

func newSeriesRow(upstream string) *seriesRow {
	return &seriesRow{upstream: upstream, series: make([]atomic.Pointer[prometheus.Counter], len(allOutcomes)*len(allReasons))}
}

func newCounterSet(vec, scrubVec *prometheus.CounterVec, route string) *counterSet {
	return &counterSet{vec: vec, scrubVec: scrubVec, route: route, rows: map[string]*seriesRow{}, other: newSeriesRow(upstreamOther)}
}

// row returns the series of an upstream: its own among the first
// maxUpstreams, `other` after them.
func (s *counterSet) row(upstream string) *seriesRow {
	s.mu.RLock()
	row := s.rows[upstream]
	full := s.distinct >= maxUpstreams
	s.mu.RUnlock()
	if row != nil {
		return row
	}
	if full && upstream != "" {
		return s.other
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if row = s.rows[upstream]; row != nil {
		return row
	}
	if upstream != "" {
		if s.distinct >= maxUpstreams {
			return s.other
		}
		s.distinct++
	}
	upstream = strings.Clone(upstream)
	row = newSeriesRow(upstream)
	s.rows[upstream] = row
	return row
}

func (s *counterSet) inc(outcome, reason, upstream string) {
	o, ok1 := outcomeIndex[outcome]
	r, ok2 := reasonIndex[reason]
	if !ok1 || !ok2 {
		return
	}
	row := s.row(upstream)
	slot := &row.series[o*len(allReasons)+r]
	c := slot.Load()
	if c == nil {
		counter := s.vec.WithLabelValues(outcome, reason, s.route, row.upstream)
		c = &counter
		slot.Store(c) // a race stores the same series twice: harmless
	}
	(*c).Inc()
}

// scrubbed counts a message scrubbing found something in, once for each
// detector that did.
func (s *counterSet) scrubbed(found detectors, upstream string) {
	row := s.row(upstream)
	for i := range numDetectors {
		if found&(1<<i) == 0 {
			continue
		}
		slot := &row.scrubbed[i]
		c := slot.Load()
		if c == nil {
			counter := s.scrubVec.WithLabelValues(s.route, row.upstream, detectorNames[i])
			c = &counter
			slot.Store(c)
		}
		(*c).Inc()
	}
}

// registerMetrics registers the counters, or finds the ones already
// registered by another handler of the same config.
func (h *Handler) registerMetrics(registry *prometheus.Registry) error {
	vec, err := register(registry, newResponsesCounter())
	if err != nil {
		return err
	}
	scrubVec, err := register(registry, newScrubbedCounter())
	if err != nil {
		return err
	}
	info, err := register(registry, newContractInfo())
	if err != nil {
		return err
	}
	h.counters = newCounterSet(vec, scrubVec, h.Name)
	info.WithLabelValues(h.Name, h.contract(h.Name, "").Digest).Set(1)
	return nil
}

// register registers a collector, or returns the one like it already
// registered (by another handler of the same config).
func register[C prometheus.Collector](registry *prometheus.Registry, c C) (C, error) {
	if registry == nil {
		return c, nil
	}
	if err := registry.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return c, err
		}
		existing, ok := are.ExistingCollector.(C)
		if !ok {
			return c, err
		}
		return existing, nil
	}
	return c, nil
}
