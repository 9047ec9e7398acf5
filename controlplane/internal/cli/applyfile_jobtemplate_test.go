package cli

import "testing"

func TestParseApplyFileJobTemplates(t *testing.T) {
	t.Parallel()
	src := `pools:
  - name: p
    type: docker
    base_job_template:
      variables:
        type: object
        properties:
          cpu: {type: number, maximum: 2}
      defaults:
        cpu: 0.5
deployments:
  - name: d
    pool: p
    command: [x]
    job_variables:
      cpu: 1
      env: {LEVEL: debug}
`
	got, err := parseApplyFile("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	wantTemplate := `{"variables":{"type":"object","properties":{"cpu":{"type":"number","maximum":2}}},"defaults":{"cpu":0.5}}`
	if tmpl := got.Pools[0].GetBaseJobTemplate(); tmpl != wantTemplate {
		t.Errorf("base_job_template = %s, want %s", tmpl, wantTemplate)
	}
	if vars, want := got.Deployments[0].GetSpec().GetJobVariables(), `{"cpu":1,"env":{"LEVEL":"debug"}}`; vars != want {
		t.Errorf("job_variables = %s, want %s", vars, want)
	}
}
