package kafka

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	kafkago "github.com/segmentio/kafka-go"
)

// Position is where a consumer group stands in its topics.
type Position struct {
	// Committed is the group's next offset per topic and partition (-1:
	// nothing committed yet).
	Committed map[string]map[int]int64
	// End is the offset the next message published to each topic and
	// partition will take, read after Committed.
	End map[string]map[int]int64
	// Backlog is the number of messages published and not yet committed.
	Backlog int64
}

// String lists the committed offsets, e.g. "topic 0:120 1:98".
func (p Position) String() string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(p.Committed)) {
		s := t
		for _, part := range slices.Sorted(maps.Keys(p.Committed[t])) {
			s += fmt.Sprintf(" %d:%d", part, p.Committed[t][part])
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// Position asks the brokers where the consumer's group stands: its
// committed offsets and how many messages wait behind them.
func (c *Consumer) Position(ctx context.Context) (Position, error) {
	t, err := c.cfg.Conn.transport()
	if err != nil {
		return Position{}, err
	}
	defer t.CloseIdleConnections()
	cl := &kafkago.Client{Addr: kafkago.TCP(c.cfg.Conn.Brokers...), Transport: t, Timeout: c.cfg.Conn.dialTimeout()}
	md, err := cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: c.cfg.Topics})
	if err != nil {
		return Position{}, fmt.Errorf("kafka position: %w", err)
	}
	parts := map[string][]int{}
	ends := map[string][]kafkago.OffsetRequest{}
	for _, tp := range md.Topics {
		if tp.Error != nil {
			return Position{}, fmt.Errorf("kafka position: topic %s: %w", tp.Name, tp.Error)
		}
		for _, p := range tp.Partitions {
			parts[tp.Name] = append(parts[tp.Name], p.ID)
			// Both ends: a partition without a committed offset is
			// behind from its first offset (-1 when not asked for).
			ends[tp.Name] = append(ends[tp.Name], kafkago.FirstOffsetOf(p.ID), kafkago.LastOffsetOf(p.ID))
		}
	}
	committed, err := cl.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: c.cfg.GroupID, Topics: parts})
	if err != nil {
		return Position{}, fmt.Errorf("kafka position: %w", err)
	}
	if committed.Error != nil {
		return Position{}, fmt.Errorf("kafka position: %w", committed.Error)
	}
	last, err := cl.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: ends})
	if err != nil {
		return Position{}, fmt.Errorf("kafka position: %w", err)
	}
	pos := Position{Committed: map[string]map[int]int64{}, End: map[string]map[int]int64{}}
	for topic, ps := range committed.Topics {
		pos.Committed[topic] = map[int]int64{}
		for _, p := range ps {
			pos.Committed[topic][p.Partition] = p.CommittedOffset
		}
	}
	for topic, ps := range last.Topics {
		pos.End[topic] = map[int]int64{}
		for _, p := range ps {
			pos.End[topic][p.Partition] = p.LastOffset
			from, ok := pos.Committed[topic][p.Partition]
			if !ok || from < 0 {
				from = p.FirstOffset
			}
			if p.LastOffset > from {
				pos.Backlog += p.LastOffset - from
			}
		}
	}
	return pos, nil
}
