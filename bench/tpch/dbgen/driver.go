package dbgen

import (
	"fmt"
	"math"
)

type Table int
type dssHuge int64
type long int64

var (
	scale dssHuge
)

type tDef struct {
	name    string
	comment string
	base    dssHuge
	loader  Loader
	genSeed func(Table, dssHuge)
	child   Table
	vTotal  dssHuge
}

var tDefs []tDef

func genTbl(tnum Table, start, count dssHuge) error {
	loader := tDefs[tnum].loader
	defer loader.Flush()

	for i := start; i < start+count; i++ {
		rowStart(tnum)
		switch tnum {
		case TLine:
			fallthrough
		case TOrder:
			fallthrough
		case TOrderLine:
			order := makeOrder(i)
			if err := loader.Load(order); err != nil {
				return err
			}
		case TSupp:
			supp := makeSupp(i)
			if err := loader.Load(supp); err != nil {
				return err
			}
		case TCust:
			cust := makeCust(i)
			if err := loader.Load(cust); err != nil {
				return err
			}
		case TPsupp:
			fallthrough
		case TPart:
			fallthrough
		case TPartPsupp:
			part := makePart(i)
			if err := loader.Load(part); err != nil {
				return err
			}
		case TNation:
			nation := makeNation(i)
			if err := loader.Load(nation); err != nil {
				return err
			}
		case TRegion:
			region := makeRegion(i)
			if err := loader.Load(region); err != nil {
				return err
			}
		}
		rowStop(tnum)
	}
	return nil
}

func initTDefs() {
	tDefs = []tDef{
		{"part.tbl", "part table", 200000, nil, sdPart, TPsupp, 0},
		{"partsupp.tbl", "partsupplier table", 200000, nil, sdPsupp, TNone, 0},
		{"supplier.tbl", "suppliers table", 10000, nil, sdSupp, TNone, 0},
		{"customer.tbl", "customers table", 150000, nil, sdCust, TNone, 0},
		{"orders.tbl", "order table", 150000 * ordersPerCust, nil, sdOrder, TLine, 0},
		{"lineitem.tbl", "lineitem table", 150000 * ordersPerCust, nil, sdLineItem, TNone, 0},
		{"orders.tbl", "orders/lineitem tables", 150000 * ordersPerCust, newOrderLineLoader(), sdOrder, TLine, 0},
		{"part.tbl", "part/partsupplier tables", 200000, newPartPsuppLoader(), sdPart, TPsupp, 0},
		{"nation.tbl", "nation table", dssHuge(nations.count), nil, sdNull, TNone, 0},
		{"region.tbl", "region table", dssHuge(regions.count), nil, sdNull, TNone, 0},
	}
}

// InitDbGen prepares generation at scale factor sf (TPC-H's SF: 1 is about
// 1 GB, 6,001,215 lineitem rows). As in the official dbgen 2.x, a scale
// factor below 1 (in steps of 0.001) keeps scale 1 and shrinks the base row
// count of every scaled table, so SF 0.01 has 1,500 orders and their keys
// stay consistent; a scale factor of 1 or more must be a whole number.
//
// Generation uses package state: InitDbGen and DbGen must not run
// concurrently, and every DbGen must follow its own InitDbGen.
//
// Phantom-DB: upstream takes an int64 scale only; the fractional scale
// factors and the error are ours.
func InitDbGen(sf float64) error {
	var bases int64 // thousandths of a base row count; 0: whole scale
	switch {
	case !(sf > 0) || math.IsInf(sf, 0):
		return fmt.Errorf("dbgen: scale factor %v: want a positive number", sf)
	case sf < 1:
		bases = int64(math.Round(sf * 1000))
		if bases < 1 || math.Abs(float64(bases)/1000-sf) > 1e-9 {
			return fmt.Errorf("dbgen: scale factor %v: below 1 it must be a multiple of 0.001", sf)
		}
		scale = 1
	default:
		if sf != math.Trunc(sf) || sf > 100000 {
			return fmt.Errorf("dbgen: scale factor %v: from 1 up it must be a whole number (at most 100000)", sf)
		}
		scale = dssHuge(sf)
	}
	initSeeds()
	initDists()
	initTextPool()

	initTDefs()
	if bases > 0 {
		for t := TPart; t < TNation; t++ {
			tDefs[t].base = tDefs[t].base * dssHuge(bases) / 1000
			if tDefs[t].base < 1 {
				tDefs[t].base = 1
			}
		}
	}
	initOrder()
	initLineItem()
	return nil
}

func DbGen(loaders map[Table]Loader, tables []Table) error {
	for table, loader := range loaders {
		tDefs[table].loader = loader
	}

	for _, i := range tables {
		rowCnt := tDefs[i].base
		if i < TNation {
			rowCnt *= scale
		}
		if err := genTbl(i, 1, rowCnt); err != nil {
			return fmt.Errorf("fail to generate %s, err: %v", tDefs[i].name, err)
		}
	}
	return nil
}
