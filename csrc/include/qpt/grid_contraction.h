// The per-point pieces of the density on the grid and of its transpose, the potential matrix.
//
// With AO values phi_j and gradients grad phi_j at a point and a symmetric density D:
//   rho = sum_ij D_ij phi_i phi_j = sum_j phi_j C_j,  grad rho = 2 sum_j grad phi_j C_j,  C_j = sum_i D_ji phi_i.
// The potential matrix V_ij = sum_g [v_rho phi_i phi_j + v_grad . (grad phi_i phi_j + phi_i grad phi_j)]
// is A + A^T with A_ij = sum_g phi_i W_j and the weighted AO
//   W_j = v_rho / 2 phi_j + v_grad . grad phi_j,
// which makes sum_g v_rho rho + v_grad . grad rho = <V, D> hold exactly (the transpose of the above).
#pragma once

#include "qpt/host_device.h"

namespace qpt {

// rho and grad rho of one point gain AO j's share, given C_j.
template <typename T>
QPT_HD void add_density_term(T c, T phi, T dphi_x, T dphi_y, T dphi_z, T& rho, T& grad_x, T& grad_y,
                             T& grad_z) {
  const T twice_c = c + c;  // (not 2 * c: T may be a vector type)
  rho += phi * c;
  grad_x += dphi_x * twice_c;
  grad_y += dphi_y * twice_c;
  grad_z += dphi_z * twice_c;
}

// W_j of one point (half_v_rho = v_rho / 2).
template <typename T>
QPT_HD T potential_weight(T half_v_rho, T v_x, T v_y, T v_z, T phi, T dphi_x, T dphi_y, T dphi_z) {
  return half_v_rho * phi + v_x * dphi_x + v_y * dphi_y + v_z * dphi_z;
}

}  // namespace qpt
