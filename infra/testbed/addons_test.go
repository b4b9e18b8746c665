package testbed_test

import "github.com/carrental/carrental/infra/testbed"

// addOnExemptions are the kube-score findings on the add-ons that no chart
// value lets us fix (infra/addons sets everything the charts expose). Any
// other CRITICAL on an add-on fails the test bed like one on the app, and
// an exemption that matches nothing fails it too.
var addOnExemptions = []testbed.Exemption{
	{Namespace: "istio-system", Object: "istiod", Finding: "low user ID",
		Why: "the istiod chart has no user setting: the image runs as 1337, and the chart enforces runAsNonRoot"},
	{Namespace: "istio-system", Object: "istiod", Finding: "low group ID",
		Why: "as for the user: group 1337 comes from the image"},
	// The gateway chart declares a placeholder container that Istio's
	// injection webhook completes at admission. The test bed runs no
	// istiod, so it stores the placeholder.
	{Namespace: "istio-ingress", Object: "istio-ingressgateway", Finding: "Image with latest tag",
		Why: "`image: auto` is replaced by istiod's pinned proxy image at admission"},
	{Namespace: "istio-ingress", Object: "istio-ingressgateway", Finding: "missing a readinessProbe",
		Why: "the injector adds the proxy's own probe (/healthz/ready on 15021)"},
	{Namespace: "istio-ingress", Object: "istio-ingressgateway", Finding: "low user ID",
		Why: "the injector runs the proxy as 1337, the UID Istio's traffic rules are written for"},
	{Namespace: "istio-ingress", Object: "istio-ingressgateway", Finding: "low group ID",
		Why: "as for the user: the proxy's group is 1337"},
}
