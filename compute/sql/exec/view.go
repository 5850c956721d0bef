package exec

import (
	"context"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/storage"
)

// CreateView returns the mutations that store a view's descriptor: a new
// id as for a table, or the replaced view's id (OR REPLACE).
func CreateView(ctx context.Context, env *Env, cv *plan.CreateView) ([]storage.Mutation, error) {
	v := cv.View
	if cv.Existing != nil {
		v.ID, v.Version = cv.Existing.ID, cv.Existing.Version+1
		return catalog.ReplaceMutations(env.DB, &v)
	}
	r := &catalog.Reader{KV: env.KV, Snap: env.Snap, DB: env.DB}
	id, err := r.NextID(ctx)
	if err != nil {
		return nil, err
	}
	v.ID = id
	return catalog.CreateMutations(env.DB, &v)
}

// DropView returns the mutations dropping the views.
func DropView(env *Env, dv *plan.DropView) []storage.Mutation {
	var muts []storage.Mutation
	for _, v := range dv.Views {
		muts = append(muts, catalog.DropMutations(env.DB, v)...)
	}
	return muts
}
