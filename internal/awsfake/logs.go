package awsfake

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Targets of the CloudWatch Logs fake.
const (
	// TargetGetLogEvents is the X-Amz-Target of GetLogEvents.
	TargetGetLogEvents = "Logs_20140328.GetLogEvents"
	// TargetPutLogEvents is the X-Amz-Target of PutLogEvents.
	TargetPutLogEvents = "Logs_20140328.PutLogEvents"
)

// getLogEventsPage is the most events GetLogEvents returns at once when the
// caller sets no limit; AWS returns up to 10,000, a small page here makes
// tests exercise the continuation tokens.
const getLogEventsPage = 50

// Logs is a fake of CloudWatch Logs' GetLogEvents and PutLogEvents. Tokens
// are "f/N", the index of the next event; like AWS, GetLogEvents returns the
// token it was given when there is nothing new. It is safe for concurrent
// use.
type Logs struct {
	mu      sync.Mutex
	streams map[string][]logEvent // by group + "\x00" + stream
}

type logEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

// NewLogs registers a CloudWatch Logs fake on s and returns it.
func NewLogs(s *Server) *Logs {
	l := &Logs{streams: map[string][]logEvent{}}
	s.Register(Service{
		TargetPrefix: "Logs_20140328",
		SigningName:  "logs",
		JSONVersion:  "1.1",
		Operations: map[string]Operation{
			"GetLogEvents": l.getLogEvents,
			"PutLogEvents": l.putLogEvents,
		},
	})
	return l
}

// CreateStream creates an empty log stream, if it does not exist.
func (l *Logs) CreateStream(group, stream string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := group + "\x00" + stream
	if _, ok := l.streams[key]; !ok {
		l.streams[key] = []logEvent{}
	}
}

// Append adds messages to a log stream, creating it if needed.
func (l *Logs) Append(group, stream string, messages ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now().UnixMilli()
	key := group + "\x00" + stream
	for _, m := range messages {
		l.streams[key] = append(l.streams[key], logEvent{Timestamp: now, Message: m, IngestionTime: now})
	}
}

func (l *Logs) getLogEvents(_ context.Context, call Call) (any, error) {
	var in struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
		NextToken     string `json:"nextToken"`
		StartFromHead bool   `json:"startFromHead"`
		Limit         *int   `json:"limit"`
	}
	if err := decode(call.Body, &in); err != nil {
		return nil, err
	}
	if in.LogStreamName == "" || len(in.LogStreamName) > 512 || in.LogGroupName == "" || len(in.LogGroupName) > 512 {
		return nil, invalidLogs("logGroupName and logStreamName must be 1-512 characters.")
	}
	if in.Limit != nil && (*in.Limit < 1 || *in.Limit > 10000) {
		return nil, invalidLogs("limit must be between 1 and 10000.")
	}
	limit := getLogEventsPage
	if in.Limit != nil {
		limit = min(*in.Limit, getLogEventsPage)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	events, ok := l.streams[in.LogGroupName+"\x00"+in.LogStreamName]
	if !ok {
		return nil, &APIError{Type: "ResourceNotFoundException", Message: "The specified log stream does not exist."}
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(in.NextToken, "f/"))
		if err != nil || !strings.HasPrefix(in.NextToken, "f/") || n < 0 || n > len(events) {
			return nil, invalidLogs("The specified nextToken is invalid.")
		}
		start = n
	} else if !in.StartFromHead {
		start = max(0, len(events)-limit)
	}
	end := min(start+limit, len(events))
	return map[string]any{
		"events":            append([]logEvent{}, events[start:end]...),
		"nextForwardToken":  fmt.Sprintf("f/%d", end),
		"nextBackwardToken": fmt.Sprintf("b/%d", start),
	}, nil
}

func (l *Logs) putLogEvents(_ context.Context, call Call) (any, error) {
	var in struct {
		LogGroupName  string     `json:"logGroupName"`
		LogStreamName string     `json:"logStreamName"`
		LogEvents     []logEvent `json:"logEvents"`
	}
	if err := decode(call.Body, &in); err != nil {
		return nil, err
	}
	if in.LogGroupName == "" || in.LogStreamName == "" || len(in.LogEvents) == 0 || len(in.LogEvents) > 10000 {
		return nil, invalidLogs("logGroupName, logStreamName and 1-10000 logEvents are required.")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := in.LogGroupName + "\x00" + in.LogStreamName
	if _, ok := l.streams[key]; !ok {
		return nil, &APIError{Type: "ResourceNotFoundException", Message: "The specified log stream does not exist."}
	}
	now := time.Now().UnixMilli()
	for _, ev := range in.LogEvents {
		ev.IngestionTime = now
		l.streams[key] = append(l.streams[key], ev)
	}
	return map[string]any{}, nil
}

// invalidLogs refuses a request that is invalid for the real API whatever
// the state; the server records it ([Server.InvalidRequests]).
func invalidLogs(msg string) error {
	return &APIError{Type: "InvalidParameterException", Message: msg, invalid: true}
}
