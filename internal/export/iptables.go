package export

import "errors"

func (p *plan) iptables(f family) (*Result, error) {
	return nil, errors.New("export: iptables is not written yet")
}
