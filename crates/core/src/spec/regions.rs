//! Azure regions we accept, and the shared Microsoft Azure Attestation (MAA) host of each.
//!
//! The table is static on purpose: the core does no I/O, and a typo in `location` should fail
//! before anything is created. Regions where a shared MAA instance is not known to exist carry
//! `None`; deploying enhanced mode there requires an explicit `maa_endpoint`.

/// One Azure region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// ARM name, as used in `location` fields (`westeurope`).
    pub name: &'static str,
    /// Portal display name (`West Europe`).
    pub display_name: &'static str,
    /// Regional shared MAA host, e.g. `sharedweu.weu.attest.azure.net`.
    pub shared_maa_host: Option<&'static str>,
}

const fn region(
    name: &'static str,
    display_name: &'static str,
    shared_maa_host: Option<&'static str>,
) -> Region {
    Region { name, display_name, shared_maa_host }
}

/// Public-cloud regions. Shared MAA hosts follow Microsoft's published list of regional
/// shared attestation providers.
pub const REGIONS: &[Region] = &[
    region("eastus", "East US", Some("sharedeus.eus.attest.azure.net")),
    region("eastus2", "East US 2", Some("sharedeus2.eus2.attest.azure.net")),
    region("westus", "West US", Some("sharedwus.wus.attest.azure.net")),
    region("westus2", "West US 2", None),
    region("westus3", "West US 3", None),
    region("centralus", "Central US", Some("sharedcus.cus.attest.azure.net")),
    region("northcentralus", "North Central US", Some("sharedncus.ncus.attest.azure.net")),
    region("southcentralus", "South Central US", Some("sharedscus.scus.attest.azure.net")),
    region("westcentralus", "West Central US", None),
    region("centraluseuap", "Central US EUAP", Some("sharedcuse.cuse.attest.azure.net")),
    region("eastus2euap", "East US 2 EUAP", Some("sharedeus2e.eus2e.attest.azure.net")),
    region("canadacentral", "Canada Central", Some("sharedcac.cac.attest.azure.net")),
    region("canadaeast", "Canada East", Some("sharedcae.cae.attest.azure.net")),
    region("brazilsouth", "Brazil South", None),
    region("mexicocentral", "Mexico Central", None),
    region("northeurope", "North Europe", Some("sharedneu.neu.attest.azure.net")),
    region("westeurope", "West Europe", Some("sharedweu.weu.attest.azure.net")),
    region("uksouth", "UK South", Some("shareduks.uks.attest.azure.net")),
    region("ukwest", "UK West", Some("sharedukw.ukw.attest.azure.net")),
    region("francecentral", "France Central", None),
    region("germanywestcentral", "Germany West Central", Some("shareddewc.dewc.attest.azure.net")),
    region("switzerlandnorth", "Switzerland North", Some("sharedswn.swn.attest.azure.net")),
    region("italynorth", "Italy North", Some("shareditn.itn.attest.azure.net")),
    region("norwayeast", "Norway East", None),
    region("swedencentral", "Sweden Central", None),
    region("polandcentral", "Poland Central", None),
    region("spaincentral", "Spain Central", None),
    region("uaenorth", "UAE North", Some("shareduaen.uaen.attest.azure.net")),
    region("qatarcentral", "Qatar Central", None),
    region("israelcentral", "Israel Central", None),
    region("southafricanorth", "South Africa North", None),
    region("centralindia", "Central India", Some("sharedcin.cin.attest.azure.net")),
    region("southindia", "South India", None),
    region("westindia", "West India", None),
    region("eastasia", "East Asia", Some("sharedeasia.easia.attest.azure.net")),
    region("southeastasia", "Southeast Asia", Some("sharedsasia.sasia.attest.azure.net")),
    region("japaneast", "Japan East", Some("sharedjpe.jpe.attest.azure.net")),
    region("japanwest", "Japan West", Some("sharedjpw.jpw.attest.azure.net")),
    region("koreacentral", "Korea Central", None),
    region("koreasouth", "Korea South", None),
    region("australiaeast", "Australia East", Some("sharedeau.eau.attest.azure.net")),
    region("australiasoutheast", "Australia Southeast", Some("sharedsau.sau.attest.azure.net")),
    region("australiacentral", "Australia Central", None),
    region("newzealandnorth", "New Zealand North", None),
];

/// Finds a region by ARM name or display name, ignoring case, spaces, `-` and `_`
/// (`"West Europe"`, `"west-europe"` and `"westeurope"` all give `westeurope`).
pub fn find_region(input: &str) -> Option<&'static Region> {
    let key = squash(input);
    REGIONS.iter().find(|r| r.name == key || squash(r.display_name) == key)
}

/// The known region names closest to `input`, for "did you mean" hints.
pub fn closest_region(input: &str) -> Option<&'static str> {
    let names: Vec<&str> = REGIONS.iter().map(|r| r.name).collect();
    super::read::closest(&squash(input), &names)
}

fn squash(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_normalise() {
        assert_eq!(find_region("West Europe").map(|r| r.name), Some("westeurope"));
        assert_eq!(find_region("eastus2").map(|r| r.name), Some("eastus2"));
        assert_eq!(find_region("EAST US 2").map(|r| r.name), Some("eastus2"));
        assert_eq!(find_region("Mars Central"), None);
    }

    #[test]
    fn shared_maa_hosts_follow_the_published_pattern() {
        let host = |n: &str| find_region(n).and_then(|r| r.shared_maa_host);
        assert_eq!(host("westeurope"), Some("sharedweu.weu.attest.azure.net"));
        assert_eq!(host("northeurope"), Some("sharedneu.neu.attest.azure.net"));
        assert_eq!(host("eastus"), Some("sharedeus.eus.attest.azure.net"));
        assert_eq!(host("eastus2"), Some("sharedeus2.eus2.attest.azure.net"));
        assert_eq!(host("westus"), Some("sharedwus.wus.attest.azure.net"));
        assert_eq!(host("centralindia"), Some("sharedcin.cin.attest.azure.net"));
        assert_eq!(host("westus2"), None);
    }

    #[test]
    fn suggests_a_near_region() {
        assert_eq!(closest_region("westeurop"), Some("westeurope"));
    }
}
