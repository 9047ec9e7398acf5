package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// RegisterUUID teaches a connection to send and read github.com/google/uuid
// values as PostgreSQL's binary uuid. Without it pgx formats each UUID as
// text and parses it again, which dominated the CPU of log ingestion (one
// UUID per line). Use it as pgxpool.Config.AfterConnect.
func RegisterUUID(_ context.Context, conn *pgx.Conn) error {
	tm := conn.TypeMap()
	tm.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapUUIDEncode}, tm.TryWrapEncodePlanFuncs...)
	tm.TryWrapScanPlanFuncs = append([]pgtype.TryWrapScanPlanFunc{tryWrapUUIDScan}, tm.TryWrapScanPlanFuncs...)
	return nil
}

type uuidValue uuid.UUID

func (u uuidValue) UUIDValue() (pgtype.UUID, error) { return pgtype.UUID{Bytes: u, Valid: true}, nil }

type nullUUIDValue uuid.NullUUID

func (u nullUUIDValue) UUIDValue() (pgtype.UUID, error) {
	return pgtype.UUID{Bytes: u.UUID, Valid: u.Valid}, nil
}

type uuidEncodePlan struct{ next pgtype.EncodePlan }

func (p *uuidEncodePlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *uuidEncodePlan) Encode(value any, buf []byte) ([]byte, error) {
	switch v := value.(type) {
	case uuid.UUID:
		return p.next.Encode(uuidValue(v), buf)
	case uuid.NullUUID:
		return p.next.Encode(nullUUIDValue(v), buf)
	}
	return nil, fmt.Errorf("store: unexpected %T in uuid encode plan", value)
}

func tryWrapUUIDEncode(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	switch v := value.(type) {
	case uuid.UUID:
		return &uuidEncodePlan{}, uuidValue(v), true
	case uuid.NullUUID:
		return &uuidEncodePlan{}, nullUUIDValue(v), true
	}
	return nil, nil, false
}

type uuidTarget struct{ u *uuid.UUID }

func (t uuidTarget) ScanUUID(v pgtype.UUID) error {
	if !v.Valid {
		return fmt.Errorf("cannot scan NULL into uuid.UUID")
	}
	*t.u = v.Bytes
	return nil
}

type nullUUIDTarget struct{ u *uuid.NullUUID }

func (t nullUUIDTarget) ScanUUID(v pgtype.UUID) error {
	*t.u = uuid.NullUUID{UUID: v.Bytes, Valid: v.Valid}
	return nil
}

type uuidScanPlan struct{ next pgtype.ScanPlan }

func (p *uuidScanPlan) SetNext(next pgtype.ScanPlan) { p.next = next }

func (p *uuidScanPlan) Scan(src []byte, target any) error {
	switch t := target.(type) {
	case *uuid.UUID:
		return p.next.Scan(src, uuidTarget{t})
	case *uuid.NullUUID:
		return p.next.Scan(src, nullUUIDTarget{t})
	}
	return fmt.Errorf("store: unexpected %T in uuid scan plan", target)
}

func tryWrapUUIDScan(target any) (pgtype.WrappedScanPlanNextSetter, any, bool) {
	switch t := target.(type) {
	case *uuid.UUID:
		return &uuidScanPlan{}, uuidTarget{t}, true
	case *uuid.NullUUID:
		return &uuidScanPlan{}, nullUUIDTarget{t}, true
	}
	return nil, nil, false
}
