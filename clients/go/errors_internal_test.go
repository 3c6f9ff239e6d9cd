package rivetq

import (
	"errors"
	"net/http"
	"testing"
)

func TestErrorFromBodyMapsCodesThenStatuses(t *testing.T) {
	cases := []struct {
		status int
		body   string
		target error
		code   string
	}{
		{http.StatusServiceUnavailable, `{"error":{"code":"storage_unavailable","message":"disk full"}}`, ErrUnavailable, "storage_unavailable"},
		{http.StatusNotFound, `{"error":{"code":"queue_not_found","message":"no queue q"}}`, ErrQueueNotFound, "queue_not_found"},
		{http.StatusBadGateway, `<html>bad gateway</html>`, ErrUnavailable, ""},
		{http.StatusUnauthorized, ``, ErrUnauthenticated, ""},
	}
	for _, tc := range cases {
		err := errorFromBody(tc.status, []byte(tc.body))
		if !errors.Is(err, tc.target) || err.Code != tc.code || err.Message == "" {
			t.Errorf("%d %s: got %#v", tc.status, tc.body, err)
		}
	}
	if err := errorFromBody(http.StatusTeapot, []byte(`{"error":{"code":"brand_new","message":"m"}}`)); err.Unwrap() != nil {
		t.Errorf("an unknown code matched %v", err.Unwrap())
	}
}
