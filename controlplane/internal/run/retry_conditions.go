package run

import ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"

// RetryOnOf turns a deployment's retry conditions into the bit set stored
// with its runs; no condition means [DefaultRetryOn].
func RetryOnOf(conds []ferryv1.RetryCondition) RetryOn {
	if len(conds) == 0 {
		return DefaultRetryOn
	}
	var r RetryOn
	for _, c := range conds {
		switch c {
		case ferryv1.RetryCondition_RETRY_CONDITION_FAILED:
			r |= RetryOnFailed
		case ferryv1.RetryCondition_RETRY_CONDITION_CRASHED:
			r |= RetryOnCrashed
		case ferryv1.RetryCondition_RETRY_CONDITION_TIMED_OUT:
			r |= RetryOnTimedOut
		}
	}
	return r
}
